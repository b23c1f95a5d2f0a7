/**
 * The SQLite store's annotations (RFC 5464): mailbox and server entries.
 */
import type { AccountId, MailboxId } from '../../ids.js';
import { StoreError } from '../types.js';
import type { MetadataDepth, MetadataEntry, MetadataStore, MetadataWrite } from '../types.js';
import { ACCOUNT_CHANNEL } from '../../events/change-bus.js';
import type { SqliteBase, Wake } from './core.js';

/** The metadata owner id of server-level entries (schema.ts: no mailbox has id 0). */
const SERVER_METADATA = 0;

/** Adds the MetadataStore role to the SQLite store. */
export function withMetadata<B extends SqliteBase>(Base: B) {
  return class SqliteMetadata extends Base implements MetadataStore {
    async getMetadata(accountId: AccountId, mailboxId: MailboxId | null, entries: readonly string[], depth: MetadataDepth = 0): Promise<MetadataEntry[]> {
      return this.read(() => {
        if (mailboxId !== null) this.requireMailbox(accountId, mailboxId);
        const owner = mailboxId ?? SERVER_METADATA;
        const found = new Map<string, Buffer>();
        for (const entry of new Set(entries.map((e) => e.toLowerCase()))) {
          const value = this.st.metadataValue.get(accountId, owner, entry);
          if (value !== undefined) found.set(entry, value);
          if (depth === 0) continue;
          for (const row of this.st.metadataBelow.all(accountId, owner, `${entry}/`, `${entry}0`)) {
            // DEPTH 1: children only, not grandchildren.
            if (depth === 1 && row.name.includes('/', entry.length + 1)) continue;
            found.set(row.name, row.value);
          }
        }
        return [...found.keys()].sort().map((name) => ({ name, value: found.get(name)! }));
      });
    }

    async setMetadata(accountId: AccountId, mailboxId: MailboxId | null, entries: readonly MetadataWrite[], maxEntries = Infinity): Promise<void> {
      const wakes = await this.write((): Wake[] => {
        const mb = mailboxId === null ? null : this.requireMailbox(accountId, mailboxId);
        if (!mb && !this.st.accountById.get(accountId)) throw new StoreError('NONEXISTENT', 'no such account');
        const owner = mailboxId ?? SERVER_METADATA;
        const before = this.st.metadataCount.get(accountId, owner) ?? 0;
        let changed = false;
        for (const [name, value] of entries) {
          const key = name.toLowerCase();
          const info = value === null ? this.st.deleteMetadata.run(accountId, owner, key) : this.st.upsertMetadata.run(accountId, owner, key, value);
          if (info.changes > 0) changed = true;
        }
        const after = this.st.metadataCount.get(accountId, owner) ?? 0;
        // Throwing rolls the whole command back (RFC 5464 §4.3: all or nothing).
        if (after > before && after > maxEntries) throw new StoreError('LIMIT', 'too many metadata entries');
        if (!changed) return [];
        // Server entries: the account channel carries the change (RFC 5465 §5.7).
        if (!mb) return [[ACCOUNT_CHANNEL, this.st.bumpNamespace.get(accountId)!]];
        // RFC 7162 §3.2: a changed mailbox annotation raises the mailbox's mod-sequence.
        const next = mb.highest_modseq + 1;
        this.st.setModseq.run(next, accountId, mb.mailbox_id);
        return [[mb.mailbox_id as MailboxId, next]];
      });
      this.publish(accountId, wakes);
    }
  };
}
