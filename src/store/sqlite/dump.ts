/**
 * The SQLite store's whole-installation copy (store/copy/): dump pages and
 * verbatim restore.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '../types.js';
import type { DumpKey, DumpRecord, DumpSection, RestoreRecord, DumpStore } from '../types.js';
import { keywordsToText, parseFlags } from '../shared/flags.js';
import { rowInsert, type SqlDialect } from '../copy/row-inserts.js';
import { ADMIN_TABLES, pageRecords, pageSql } from '../copy/sections.js';
import type { SqliteBase } from './core.js';

/** How the shared copy statements (store/copy/row-inserts.ts) are spelled here. */
const SQLITE_DIALECT: SqlDialect = { placeholder: () => '?', time: (d) => d.getTime(), bool: (b) => (b ? 1 : 0), identityOverride: '' };

/** Adds the DumpStore role to the SQLite store. */
export function withDump<B extends SqliteBase>(Base: B) {
  return class SqliteDump extends Base implements DumpStore {
    /** Statements of dump and restore, prepared on first use. */
    private readonly copyStatements = new Map<string, Database.Statement>();

    async dumpPage(section: DumpSection, after: DumpKey | null, limit: number): Promise<DumpRecord[]> {
      if (section === 'counters') {
        if (after) return [];
        // The accounts id allocator is AUTOINCREMENT's sqlite_sequence row (ids are never reused).
        const row = this.copyStatement(
          `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'accounts'), 0) AS a,
                  coalesce((SELECT value FROM counters WHERE account_id = 0 AND name = 'mailbox_id'), 0) AS m,
                  coalesce((SELECT value FROM counters WHERE account_id = 0 AND name = 'uid_validity'), 0) AS u`,
        ).get() as { a: number; m: number; u: number };
        return [{ kind: 'counters', lastAccountId: row.a, lastMailboxId: row.m, lastUidValidity: row.u }];
      }
      const rows = this.copyStatement(pageSql(section, after !== null, () => '?')).all(...(after ?? []), limit);
      return pageRecords(section, rows as Record<string, unknown>[]);
    }

    async restorableBlobs(blobIds: readonly string[]): Promise<Set<string>> {
      // A blob row exists only with its file and analysis (or, for a composite, its base's row).
      const rows = this.copyStatement('SELECT blob_id FROM blobs WHERE blob_id IN (SELECT value FROM json_each(?))').pluck().all(JSON.stringify(blobIds));
      return new Set(rows as string[]);
    }

    async restore(records: readonly RestoreRecord[]): Promise<void> {
      // Triggers keep the counts and blob refcounts, as for any insertion.
      await this.write(() => {
        for (const r of records) {
          if (r.kind === 'message') {
            if (r.analysis) this.referenceBlob(r.blob, r.analysis);
            else if (this.st.blobExists.get(r.blob.blobId) === undefined) throw new StoreError('CANNOT', `blob ${r.blob.blobId} is not here`);
            const flags = parseFlags(r.flags);
            this.st.insertMessage.run(
              r.accountId,
              r.mailboxId,
              r.uid,
              r.modseq,
              flags.system,
              keywordsToText(flags.keywords),
              r.internalDate.getTime(),
              r.saveDate.getTime(),
              r.blob.size,
              r.blob.blobId,
              r.emailId,
            );
            // Derived, like the counts: the restored mailbox defines the keywords its messages carry.
            for (const k of flags.keywords) this.st.defineKeyword.run(r.accountId, r.mailboxId, k.toLowerCase());
          } else if (r.kind === 'counters') {
            // Raised, never lowered: the target may have handed out larger values already.
            const raise = this.copyStatement(
              `INSERT INTO counters (account_id, name, value) VALUES (0, ?, ?)
               ON CONFLICT (account_id, name) DO UPDATE SET value = max(value, excluded.value)`,
            );
            raise.run('mailbox_id', r.lastMailboxId);
            raise.run('uid_validity', r.lastUidValidity);
            const raised = this.copyStatement("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'accounts'").run(r.lastAccountId);
            if (raised.changes === 0) this.copyStatement("INSERT INTO sqlite_sequence (name, seq) VALUES ('accounts', ?)").run(r.lastAccountId);
          } else {
            const { sql, values } = rowInsert(r, SQLITE_DIALECT);
            this.copyStatement(sql).run(...values);
          }
        }
      });
    }

    async clearAdministration(): Promise<number> {
      return this.write(() => ADMIN_TABLES.reduce((n, table) => n + this.copyStatement(`DELETE FROM ${table}`).run().changes, 0));
    }

    protected copyStatement(sql: string): Database.Statement {
      let stmt = this.copyStatements.get(sql);
      if (!stmt) this.copyStatements.set(sql, (stmt = this.db.prepare(sql)));
      return stmt;
    }
  };
}
