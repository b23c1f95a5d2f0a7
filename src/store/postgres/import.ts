/**
 * The PostgreSQL store's import records: what `mailkeep import` and
 * `migrate` brought in, their sync states and adopted UIDVALIDITYs.
 */
import { modseq as toModSeq, uid as toUid } from '../../ids.js';
import type { AccountId, MailboxId, Uid } from '../../ids.js';
import type { ChangeNote } from '../../events/pg-bus.js';
import { checkSourceKey } from '../shared/names.js';
import { StoreError } from '../types.js';
import type { ImportedMessage, ImportResult, ImportStore } from '../types.js';
import { allocateUidValidity, enforceQuota, importedUids, insertRows, lockMailbox, lockQuota, requireMailbox } from './mailbox-tx.js';
import { firstOf, SCOPE, storable } from './sql.js';
import { checkUidValidity, freshImports } from '../shared/rules.js';
import type { PgBase } from './core.js';

/** Adds the ImportStore role to the PostgreSQL store. */
export function withImport<B extends PgBase>(Base: B) {
  return class PgImport extends Base implements ImportStore {
    async importMessages(accountId: AccountId, id: MailboxId, messages: ImportedMessage[]): Promise<ImportResult> {
      // Validate before taking any lock.
      for (const m of messages) checkSourceKey(m.sourceKey, storable);
      const incoming = this.incoming(messages);
      return this.write(async (c): Promise<[ImportResult, ChangeNote[]]> => {
        const limits = await lockQuota(c, accountId);
        const mb = await lockMailbox(c, accountId, id);
        const recorded = await importedUids(
          c,
          accountId,
          id,
          messages.map((m) => m.sourceKey),
        );
        const uids: Array<Uid | null> = messages.map(() => null);
        const fresh = freshImports(messages, (key) => recorded.has(key));
        if (fresh.length === 0) return [{ uidValidity: mb.uid_validity, uids, modseq: toModSeq(mb.highest_modseq) }, []];
        await enforceQuota(
          c,
          accountId,
          limits,
          fresh.length,
          fresh.reduce((sum, i) => sum + messages[i]!.blob.size, 0),
        );
        const inserted = await insertRows(
          c,
          accountId,
          id,
          fresh.map((i) => incoming[i]!.row),
          this.limits,
          0,
          fresh.map((i) => messages[i]!.uid),
          mb,
        );
        await c.query(
          `INSERT INTO import_records (account_id, mailbox_id, source_key, uid) SELECT $1, $2, k, u FROM unnest($3::text[], $4::bigint[]) AS r (k, u)`,
          [accountId, id, fresh.map((i) => messages[i]!.sourceKey), inserted.uids],
        );
        fresh.forEach((i, k) => (uids[i] = toUid(inserted.uids[k]!)));
        await this.referenceNew(
          c,
          fresh.map((i) => incoming[i]!),
        );
        const modseq = inserted.mb.highest_modseq;
        return [{ uidValidity: mb.uid_validity, uids, modseq: toModSeq(modseq) }, [{ accountId, mailboxId: id, modseq }]];
      });
    }

    async findImported(accountId: AccountId, id: MailboxId, sourceKeys: readonly string[]): Promise<Map<string, Uid>> {
      return importedUids(this.pool, accountId, id, sourceKeys);
    }

    async adoptUidValidity(accountId: AccountId, id: MailboxId, uidValidity: number): Promise<boolean> {
      checkUidValidity(uidValidity);
      return this.write(async (c) => {
        const mb = await lockMailbox(c, accountId, id);
        if (mb.uid_validity === uidValidity) return [true, []];
        // Only a mailbox that never held a message: no client can have cached a UID of it.
        if (mb.uid_next !== 1) return [false, []];
        await c.query(`UPDATE mailboxes SET uid_validity = $3 WHERE ${SCOPE}`, [accountId, id, uidValidity]);
        // Mailboxes created later (this name again included) get larger values (RFC 9051 §2.3.1.1).
        await allocateUidValidity(c, uidValidity, 1);
        return [true, []];
      });
    }

    async getSyncState(accountId: AccountId, id: MailboxId, source: string): Promise<string | null> {
      if (!storable(source)) return null;
      const row = await firstOf<{ state: string }>(this.pool, `SELECT state FROM sync_states WHERE ${SCOPE} AND source = $3`, [accountId, id, source]);
      return row?.state ?? null;
    }

    async setSyncState(accountId: AccountId, id: MailboxId, source: string, state: string): Promise<void> {
      if (!storable(source) || !storable(state)) throw new StoreError('CANNOT', 'invalid sync state');
      await this.write(async (c) => {
        await requireMailbox(c, accountId, id);
        await c.query(
          `INSERT INTO sync_states (account_id, mailbox_id, source, state) VALUES ($1, $2, $3, $4)
           ON CONFLICT (account_id, mailbox_id, source) DO UPDATE SET state = EXCLUDED.state`,
          [accountId, id, source, state],
        );
        return [undefined, []];
      });
    }
  };
}
