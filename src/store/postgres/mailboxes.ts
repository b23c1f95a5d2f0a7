/**
 * The PostgreSQL store's mailboxes: create, delete, RENAME (its plan in
 * ../shared/rules.ts), subscriptions, counts and the account quota.
 */
import type { AccountId, MailboxId } from '../../ids.js';
import type { ChangeNote } from '../../events/pg-bus.js';
import { IS_DELETED_SQL } from '../shared/flags.js';
import { canonicalName, checkNewName, denormalizedMatch, INBOX, isAscii } from '../shared/names.js';
import { toMailbox, type MailboxRow } from '../shared/rows.js';
import { StoreError } from '../types.js';
import type { Mailbox, MailboxCounts, QuotaLimits, QuotaUsage, MailboxStore } from '../types.js';
import { checkMailboxRoom, dropMessages, insertMailboxes, lockMailbox, refuseExisting, bumpNamespace, renameInbox, requireMailbox } from './mailbox-tx.js';
import { firstOf, rowsOf, SCOPE, storable } from './sql.js';
import { planRename } from '../shared/rules.js';
import type { PgBase } from './core.js';

/** Adds the MailboxStore role to the PostgreSQL store. */
export function withMailboxes<B extends PgBase>(Base: B) {
  return class PgMailboxes extends Base implements MailboxStore {
    async setQuota(id: AccountId, limits: QuotaLimits): Promise<void> {
      const res = await this.pool.query('UPDATE accounts SET quota_storage = $1, quota_messages = $2 WHERE account_id = $3', [
        limits.storage,
        limits.messages,
        id,
      ]);
      if (res.rowCount === 0) throw new StoreError('NONEXISTENT', 'no such account');
    }

    async getQuotaUsage(id: AccountId): Promise<QuotaUsage> {
      // The per-mailbox aggregates: one row per mailbox, no message scan.
      const row = await firstOf<QuotaUsage>(
        this.pool,
        `SELECT a.quota_storage AS storage, a.quota_messages AS messages,
                coalesce(sum(m.total_size), 0)::bigint AS "usedStorage", coalesce(sum(m.message_count), 0)::bigint AS "usedMessages"
         FROM accounts a LEFT JOIN mailboxes m ON m.account_id = a.account_id
         WHERE a.account_id = $1 GROUP BY a.account_id`,
        [id],
      );
      if (!row) throw new StoreError('NONEXISTENT', 'no such account');
      return row;
    }

    async listMailboxes(accountId: AccountId): Promise<Mailbox[]> {
      return (await rowsOf<MailboxRow>(this.pool, 'SELECT * FROM mailboxes WHERE account_id = $1 ORDER BY name', [accountId])).map(toMailbox);
    }

    async getMailbox(accountId: AccountId, name: string): Promise<Mailbox | null> {
      if (!storable(name)) return null;
      const canonical = canonicalName(name);
      const row = await firstOf<MailboxRow>(this.pool, 'SELECT * FROM mailboxes WHERE account_id = $1 AND name = $2', [accountId, canonical]);
      if (row) return toMailbox(row);
      // A mailbox created before names were normalized keeps its stored name (shared/names.ts denormalizedMatch).
      if (isAscii(canonical)) return null;
      const nonAscii = await rowsOf<MailboxRow>(this.pool, "SELECT * FROM mailboxes WHERE account_id = $1 AND name ~ '[^\\x01-\\x7f]'", [accountId]);
      const legacy = denormalizedMatch(nonAscii, canonical);
      return legacy ? toMailbox(legacy) : null;
    }

    async getMailboxById(accountId: AccountId, id: MailboxId): Promise<Mailbox | null> {
      const row = await firstOf<MailboxRow>(this.pool, `SELECT * FROM mailboxes WHERE ${SCOPE}`, [accountId, id]);
      return row ? toMailbox(row) : null;
    }

    async createMailbox(accountId: AccountId, name: string, specialUse: string | null = null): Promise<Mailbox> {
      if (!storable(name)) throw new StoreError('CANNOT', 'invalid mailbox name');
      checkNewName(name);
      const canonical = canonicalName(name);
      return this.write(async (c) => {
        if (!(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1', [accountId]))) {
          throw new StoreError('NONEXISTENT', 'no such account');
        }
        // First: its row lock serializes the account's CREATEs and RENAMEs, so the mailbox count below holds.
        const channel = await bumpNamespace(c, accountId);
        await refuseExisting(c, accountId, canonical);
        await checkMailboxRoom(c, accountId, this.limits);
        const [row] = await insertMailboxes(c, accountId, [{ name: canonical, specialUse }]);
        if (!row) throw new Error('mailbox insert returned nothing');
        return [toMailbox(row), [channel]];
      });
    }

    async deleteMailbox(accountId: AccountId, id: MailboxId): Promise<void> {
      await this.write(async (c) => {
        const mb = await lockMailbox(c, accountId, id, 'UPDATE');
        if (mb.name === INBOX) throw new StoreError('CANNOT', 'INBOX cannot be deleted');
        // Messages and tombstones go at once, releasing their blobs: the mailbox's sessions
        // are disconnected, so nobody may still FETCH. Subscriptions stay (RFC 9051 §6.3.9).
        const refs = await dropMessages(c, accountId, id);
        await c.query(`DELETE FROM metadata WHERE ${SCOPE}`, [accountId, id]);
        // Cascades to import records and sync states.
        await c.query(`DELETE FROM mailboxes WHERE ${SCOPE}`, [accountId, id]);
        await refs.apply(c);
        // Sessions that have it selected wake up and find it gone.
        return [undefined, [{ accountId, mailboxId: id, modseq: mb.highest_modseq + 1 }, await bumpNamespace(c, accountId)]];
      });
      this.bus.markGone(accountId, id);
      await this.background.run(() => this.collectGarbage());
    }

    async renameMailbox(accountId: AccountId, from: string, to: string): Promise<void> {
      checkNewName(to);
      // The name as stored: inferiors of a mailbox created before names were normalized share its form.
      const source = (await this.getMailbox(accountId, from))?.name ?? canonicalName(from);
      const target = canonicalName(to);
      if (!storable(source)) throw new StoreError('NONEXISTENT', 'no such mailbox');
      if (!storable(target)) throw new StoreError('CANNOT', 'invalid mailbox name');
      await this.write(async (c): Promise<[undefined, ChangeNote[]]> => {
        const channel = await bumpNamespace(c, accountId);
        // The source and its inferiors (names strictly between `x/` and `x0`; '0' follows '/'), locked by id.
        const tree = await rowsOf<MailboxRow>(
          c,
          `SELECT * FROM mailboxes WHERE account_id = $1 AND (name = $2 OR (name > $3 AND name < $4))
           ORDER BY mailbox_id FOR UPDATE`,
          [accountId, source, `${source}/`, `${source}0`],
        );
        const src = tree.find((mb) => mb.name === source);
        if (!src) throw new StoreError('NONEXISTENT', 'no such mailbox');
        await refuseExisting(c, accountId, target, 'target mailbox exists');
        if (source === INBOX) return [undefined, [...(await renameInbox(c, accountId, src, target, this.limits)), channel]];
        // RFC 9051 §6.3.6: inferior names are renamed too.
        const { above, below, renamed } = planRename(source, target);
        const taken = await firstOf<{ name: string }>(c, 'SELECT name FROM mailboxes WHERE account_id = $1 AND name = ANY($2::text[]) LIMIT 1', [
          accountId,
          tree.filter((mb) => mb !== src).map((mb) => renamed(mb.name)),
        ]);
        if (taken) throw new StoreError('ALREADYEXISTS', `${taken.name} exists`);
        await c.query(
          `UPDATE mailboxes m SET name = r.name FROM unnest($2::bigint[], $3::text[]) AS r (mailbox_id, name)
           WHERE m.account_id = $1 AND m.mailbox_id = r.mailbox_id`,
          [accountId, tree.map((mb) => mb.mailbox_id), tree.map((mb) => renamed(mb.name))],
        );
        // Subscriptions follow the mailboxes they name.
        const subs = await rowsOf<{ name: string }>(
          c,
          'DELETE FROM subscriptions WHERE account_id = $1 AND (name = $2 OR (name > $3 AND name < $4)) RETURNING name',
          [accountId, source, above, below],
        );
        if (subs.length > 0) {
          await c.query('INSERT INTO subscriptions (account_id, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [
            accountId,
            subs.map((s) => renamed(s.name)),
          ]);
        }
        return [undefined, [channel]];
      });
    }

    async setSubscribed(accountId: AccountId, name: string, subscribed: boolean): Promise<void> {
      if (!storable(name)) throw new StoreError('CANNOT', 'invalid mailbox name');
      const canonical = canonicalName(name);
      await this.write(async (c) => {
        if (!(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1', [accountId]))) {
          throw new StoreError('NONEXISTENT', 'no such account');
        }
        if (subscribed) {
          await c.query('INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [accountId, canonical]);
        } else {
          await c.query('DELETE FROM subscriptions WHERE account_id = $1 AND name = $2', [accountId, canonical]);
        }
        return [undefined, [await bumpNamespace(c, accountId)]];
      });
    }

    async listSubscriptions(accountId: AccountId): Promise<string[]> {
      const rows = await rowsOf<{ name: string }>(this.pool, 'SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name', [accountId]);
      return rows.map((r) => r.name);
    }

    async mailboxCounts(accountId: AccountId, id: MailboxId): Promise<MailboxCounts> {
      // Kept with every change: no scan, whatever the mailbox size.
      const mb = await requireMailbox(this.pool, accountId, id);
      let deletedSize = 0;
      if (mb.deleted_count > 0) {
        const row = await firstOf<{ n: string }>(
          this.pool,
          `SELECT coalesce(sum(size), 0) AS n FROM messages WHERE account_id = $1 AND mailbox_id = $2 AND ${IS_DELETED_SQL}`,
          [accountId, id],
        );
        deletedSize = Number(row?.n ?? 0);
      }
      return { messages: mb.message_count, unseen: mb.unseen_count, deleted: mb.deleted_count, size: mb.total_size, recent: mb.recent_count, deletedSize };
    }
  };
}
