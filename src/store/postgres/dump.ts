/**
 * The PostgreSQL store's whole-installation copy (store/copy/): dump pages
 * and verbatim restore.
 */
import { rowInsert, type SqlDialect } from '../copy/row-inserts.js';
import { ADMIN_TABLES, pageRecords, pageSql } from '../copy/sections.js';
import { keywordsToText, parseFlags } from '../shared/flags.js';
import { keywordKeys } from '../shared/rules.js';
import type { DumpKey, DumpRecord, DumpSection, RestoredMessage, RestoreRecord, DumpStore } from '../types.js';
import { BlobRefs } from './blob-refs.js';
import { countDelta, type NewRow } from './rows.js';
import { insertMessageRows, lockMailbox } from './mailbox-tx.js';
import { firstOf, rowsOf, SCOPE, type Client } from './sql.js';
import type { Incoming, PgBase } from './core.js';

/** How the shared copy statements (store/copy/row-inserts.ts) are spelled here; account ids are an identity column. */
const PG_DIALECT: SqlDialect = { placeholder: (i) => `$${i}`, time: (d) => d, bool: (b) => b, identityOverride: 'OVERRIDING SYSTEM VALUE' };
/** The accounts identity sequence, by name as the schema created it. */
const ACCOUNT_IDS = "pg_get_serial_sequence('accounts', 'account_id')::regclass";
/** The audit log's id sequence. */
const AUDIT_IDS = "pg_get_serial_sequence('admin_audit', 'audit_id')::regclass";

/** Adds the DumpStore role to the PostgreSQL store. */
export function withDump<B extends PgBase>(Base: B) {
  return class PgDump extends Base implements DumpStore {
    async dumpPage(section: DumpSection, after: DumpKey | null, limit: number): Promise<DumpRecord[]> {
      if (section === 'counters') {
        if (after) return [];
        const row = await firstOf<{ a: number; m: number; u: number }>(
          this.pool,
          `SELECT coalesce(pg_sequence_last_value(${ACCOUNT_IDS}), 0) AS a, coalesce(pg_sequence_last_value('mailbox_ids'), 0) AS m,
                  coalesce((SELECT value FROM counters WHERE name = 'uid_validity'), 0) AS u`,
          [],
        );
        return [{ kind: 'counters', lastAccountId: row?.a ?? 0, lastMailboxId: row?.m ?? 0, lastUidValidity: row?.u ?? 0 }];
      }
      const rows = await rowsOf(
        this.pool,
        pageSql(section, after !== null, (i) => `$${i}`),
        [...(after ?? []), limit],
      );
      return pageRecords(section, rows);
    }

    async restorableBlobs(blobIds: readonly string[]): Promise<Set<string>> {
      // A staged row has bytes but no analysis yet: it still needs one.
      const rows = await rowsOf<{ blob_id: string }>(
        this.pool,
        'SELECT blob_id FROM blobs WHERE blob_id = ANY($1::text[]) AND (analysis IS NOT NULL OR base_id IS NOT NULL)',
        [blobIds],
      );
      return new Set(rows.map((r) => r.blob_id));
    }

    async restore(records: readonly RestoreRecord[]): Promise<void> {
      await this.write(async (c) => {
        const messages = records.filter((r): r is RestoredMessage => r.kind === 'message');
        if (messages.length > 0) await this.restoreMessages(c, messages);
        for (const r of records) {
          if (r.kind === 'message') continue;
          if (r.kind === 'counters') {
            // Raised, never lowered: the target may have handed out larger values already.
            await c.query(
              `INSERT INTO counters (name, value) VALUES ('uid_validity', $1)
               ON CONFLICT (name) DO UPDATE SET value = greatest(counters.value, EXCLUDED.value)`,
              [r.lastUidValidity],
            );
            await c.query(`SELECT setval(${ACCOUNT_IDS}, $1) WHERE $1 > coalesce(pg_sequence_last_value(${ACCOUNT_IDS}), 0)`, [r.lastAccountId]);
            await c.query(`SELECT setval('mailbox_ids', $1) WHERE $1 > coalesce(pg_sequence_last_value('mailbox_ids'), 0)`, [r.lastMailboxId]);
          } else {
            const { sql, values } = rowInsert(r, PG_DIALECT);
            await c.query(sql, values);
          }
        }
        // Explicit audit ids do not move bigserial's sequence (SQLite's AUTOINCREMENT follows by itself).
        if (records.some((r) => r.kind === 'auditEntry')) {
          await c.query(
            `SELECT setval(${AUDIT_IDS}, m) FROM (SELECT max(audit_id) AS m FROM admin_audit) t WHERE m > coalesce(pg_sequence_last_value(${AUDIT_IDS}), 0)`,
          );
        }
        return [undefined, []];
      });
    }

    async clearAdministration(): Promise<number> {
      return this.write(async (c) => {
        let n = 0;
        for (const table of ADMIN_TABLES) n += (await c.query(`DELETE FROM ${table}`)).rowCount ?? 0;
        return [n, []];
      });
    }

    /**
     * Inserts restored messages verbatim (store restore) and keeps what the
     * store derives from them, as its own insertions do: the mailboxes' counts
     * and the blob references (a new blob's analysis stored by referenceNew).
     */
    protected async restoreMessages(c: Client, messages: readonly RestoredMessage[]): Promise<void> {
      const rows = messages.map(restoredRow);
      const byMailbox = new Map<string, { accountId: number; mailboxId: number; rows: Array<NewRow & { uid: number }> }>();
      messages.forEach((m, i) => {
        const key = `${m.accountId}/${m.mailboxId}`;
        let group = byMailbox.get(key);
        if (!group) byMailbox.set(key, (group = { accountId: m.accountId, mailboxId: m.mailboxId, rows: [] }));
        group.rows.push({ ...rows[i]!, uid: m.uid });
      });
      // Lock order (module comment): mailboxes, then messages, then blobs.
      for (const group of byMailbox.values()) {
        const { accountId, mailboxId } = group;
        const mb = await lockMailbox(c, accountId, mailboxId);
        const d = countDelta(group.rows, 1, mb.first_recent_uid);
        await c.query(
          `UPDATE mailboxes SET message_count = message_count + $3, total_size = total_size + $4,
             unseen_count = unseen_count + $5, deleted_count = deleted_count + $6, recent_count = recent_count + $7
           WHERE ${SCOPE}`,
          [accountId, mailboxId, d.messages, d.size, d.unseen, d.deleted, d.recent],
        );
      }
      await insertMessageRows(
        c,
        messages.map((m, i) => ({ accountId: m.accountId, mailboxId: m.mailboxId, uid: m.uid, modseq: m.modseq, row: rows[i]! })),
      );
      // Derived, like the counts: each restored mailbox defines the keywords its messages carry.
      for (const { accountId, mailboxId, rows: placed } of byMailbox.values()) {
        const keys = keywordKeys(placed.map((r) => r.keywords));
        if (keys.length === 0) continue;
        await c.query('INSERT INTO mailbox_keywords (account_id, mailbox_id, keyword) SELECT $1, $2, unnest($3::text[]) ON CONFLICT DO NOTHING', [
          accountId,
          mailboxId,
          keys,
        ]);
      }
      // Blobs new here get their analysis stored as by any insertion; the others only gain a reference.
      const fresh: Incoming[] = [];
      const known = new BlobRefs();
      messages.forEach((m, i) => {
        if (!m.analysis) known.add(m.blob.blobId, 1);
        else fresh.push({ message: { blob: m.blob, analysis: m.analysis, flags: m.flags, internalDate: m.internalDate }, row: rows[i]! });
      });
      await this.referenceNew(c, fresh);
      await known.apply(c);
    }
  };
}

/** The stored row of a restored message (flags validated, everything else verbatim). */
function restoredRow(m: RestoredMessage): NewRow {
  const flags = parseFlags(m.flags);
  return {
    system_flags: flags.system,
    keywords: keywordsToText(flags.keywords),
    internal_date: m.internalDate,
    save_date: m.saveDate,
    size: m.blob.size,
    blob_id: m.blob.blobId,
    email_id: m.emailId,
  };
}
