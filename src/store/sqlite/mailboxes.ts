/**
 * The SQLite store's mailboxes: create, delete, RENAME (its plan in
 * ../shared/rules.ts), subscriptions, counts and the account quota.
 */
import type { AccountId, MailboxId } from '../../ids.js';
import { StoreError } from '../types.js';
import type { Mailbox, MailboxCounts, QuotaLimits, QuotaUsage, MailboxStore } from '../types.js';
import { ACCOUNT_CHANNEL } from '../../events/change-bus.js';
import { canonicalName, checkNewName, denormalizedMatch, INBOX, isAscii } from '../shared/names.js';
import { toMailbox, type MailboxRow } from '../shared/rows.js';
import { planRename } from '../shared/rules.js';
import type { SqliteBase, Wake } from './core.js';

/** Adds the MailboxStore role to the SQLite store. */
export function withMailboxes<B extends SqliteBase>(Base: B) {
  return class SqliteMailboxes extends Base implements MailboxStore {
    async setQuota(id: AccountId, limits: QuotaLimits): Promise<void> {
      await this.write(() => this.changedOne(this.st.setQuota.run(limits.storage, limits.messages, id), 'account'));
    }

    async getQuotaUsage(id: AccountId): Promise<QuotaUsage> {
      // The per-mailbox aggregates are kept by triggers: one row per mailbox, no message scan.
      const row = this.st.usage.get(id);
      if (!row) throw new StoreError('NONEXISTENT', 'no such account');
      return { storage: row.quota_storage, messages: row.quota_messages, usedStorage: row.storage, usedMessages: row.messages };
    }

    async listMailboxes(accountId: AccountId): Promise<Mailbox[]> {
      return this.st.mailboxesOf.all(accountId).map(toMailbox);
    }

    async getMailbox(accountId: AccountId, name: string): Promise<Mailbox | null> {
      const row = this.mailboxRowByName(accountId, name);
      return row ? toMailbox(row) : null;
    }

    /** The row a name means: stored under its canonical form, or (created before names were normalized) under another form. */
    protected mailboxRowByName(accountId: AccountId, name: string): MailboxRow | undefined {
      const canonical = canonicalName(name);
      const row = this.st.mailboxByName.get(accountId, canonical);
      if (row || isAscii(canonical)) return row;
      return denormalizedMatch(this.st.mailboxesOf.all(accountId), canonical);
    }

    async getMailboxById(accountId: AccountId, id: MailboxId): Promise<Mailbox | null> {
      const row = this.st.mailboxById.get(accountId, id);
      return row ? toMailbox(row) : null;
    }

    async createMailbox(accountId: AccountId, name: string, specialUse: string | null = null): Promise<Mailbox> {
      checkNewName(name);
      const [mb, version] = await this.write((): [Mailbox, number] => {
        if (!this.st.accountById.get(accountId)) throw new StoreError('NONEXISTENT', 'no such account');
        return [toMailbox(this.insertMailbox(accountId, canonicalName(name), specialUse)), this.st.bumpNamespace.get(accountId)!];
      });
      this.publish(accountId, [[ACCOUNT_CHANNEL, version]]);
      return mb;
    }

    async deleteMailbox(accountId: AccountId, id: MailboxId): Promise<void> {
      const last = await this.write((): [modseq: number, namespace: number] => {
        const mb = this.requireMailbox(accountId, id);
        if (mb.name === INBOX) throw new StoreError('CANNOT', 'INBOX cannot be deleted');
        // Cascades to messages and tombstones, releasing their blobs at once: the mailbox's
        // sessions are disconnected, so nobody may still FETCH. Subscriptions stay (RFC 9051 §6.3.9).
        this.st.deleteMailbox.run(accountId, id);
        return [mb.highest_modseq, this.st.bumpNamespace.get(accountId)!];
      });
      // Sessions that have it selected wake up and find it gone.
      this.publish(accountId, [
        [id, last[0] + 1],
        [ACCOUNT_CHANNEL, last[1]],
      ]);
      await this.background.run(() => this.collectGarbage());
    }

    async renameMailbox(accountId: AccountId, from: string, to: string): Promise<void> {
      checkNewName(to);
      const target = canonicalName(to);
      let version = 0;
      const wakes = await this.write((): Wake[] => {
        version = this.st.bumpNamespace.get(accountId)!;
        const src = this.mailboxRowByName(accountId, from);
        if (!src) throw new StoreError('NONEXISTENT', 'no such mailbox');
        // The name as stored: inferiors of a mailbox created before names were normalized share its form.
        const source = src.name;
        if (this.st.mailboxByName.get(accountId, target)) throw new StoreError('ALREADYEXISTS', 'target mailbox exists');
        if (source === INBOX) return this.renameInbox(accountId, src, target);
        // RFC 9051 §6.3.6: inferior names are renamed too.
        const { above, below, renamed } = planRename(source, target);
        const moved = [src, ...this.st.inferiors.all(accountId, above, below)];
        for (const mb of moved.slice(1)) {
          if (this.st.mailboxByName.get(accountId, renamed(mb.name))) {
            throw new StoreError('ALREADYEXISTS', `${renamed(mb.name)} exists`);
          }
        }
        for (const mb of moved) this.st.renameMailbox.run(renamed(mb.name), accountId, mb.mailbox_id);
        // Subscriptions follow the mailboxes they name.
        for (const name of this.st.subscriptionsUnder.all(accountId, source, above, below)) {
          this.st.unsubscribe.run(accountId, name);
          this.st.subscribe.run(accountId, renamed(name));
        }
        return [];
      });
      this.publish(accountId, [...wakes, [ACCOUNT_CHANNEL, version]]);
    }

    async setSubscribed(accountId: AccountId, name: string, subscribed: boolean): Promise<void> {
      const canonical = canonicalName(name);
      const version = await this.write(() => {
        if (!this.st.accountById.get(accountId)) throw new StoreError('NONEXISTENT', 'no such account');
        if (subscribed) this.st.subscribe.run(accountId, canonical);
        else this.st.unsubscribe.run(accountId, canonical);
        return this.st.bumpNamespace.get(accountId)!;
      });
      this.publish(accountId, [[ACCOUNT_CHANNEL, version]]);
    }

    async listSubscriptions(accountId: AccountId): Promise<string[]> {
      return this.st.subscriptions.all(accountId);
    }

    async mailboxCounts(accountId: AccountId, id: MailboxId): Promise<MailboxCounts> {
      // Kept by triggers (schema.ts): no scan, whatever the mailbox size.
      const mb = this.requireMailbox(accountId, id);
      // Only \Deleted messages are summed (partial index): cheap whatever the mailbox size.
      const deletedSize = mb.deleted_count === 0 ? 0 : this.st.deletedSize.get(accountId, id)!;
      return { messages: mb.message_count, unseen: mb.unseen_count, deleted: mb.deleted_count, size: mb.total_size, recent: mb.recent_count, deletedSize };
    }

    /**
     * RFC 9051 §6.3.6: renaming INBOX moves all its messages to a new mailbox of
     * the new name (fresh UIDVALIDITY) and leaves INBOX existing and empty;
     * INBOX's inferiors are unaffected.
     */
    protected renameInbox(accountId: AccountId, inbox: MailboxRow, target: string): Wake[] {
      const dst = this.insertMailbox(accountId, target, null);
      // RFC 5464 §4.1: INBOX keeps its annotations and the new mailbox gets a copy.
      this.st.copyMetadata.run(dst.mailbox_id, accountId, inbox.mailbox_id);
      return this.transferRows(accountId, inbox, this.st.allRecords.all(accountId, inbox.mailbox_id), dst, true).wakes;
    }
  };
}
