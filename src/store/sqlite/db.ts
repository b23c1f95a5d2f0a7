/**
 * Opening the SQLite file with the settings every mailkeep process relies on.
 *
 * Invariants: WAL (readers never block the writer, several processes share
 * the file); synchronous=FULL, so a committed transaction survives kill -9 and
 * power loss (DESIGN invariant 1); a busy timeout so a second process waits
 * for the write lock instead of failing; foreign keys enforced (cascades).
 */
import Database from 'better-sqlite3';
import { timeCommit } from '../../metrics/metrics.js';

/** How long a connection waits for another process's write lock before failing. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** Opens (creating if needed) a database file with mailkeep's pragmas. */
export function openDatabase(path: string, busyTimeoutMs = DEFAULT_BUSY_TIMEOUT_MS): Database.Database {
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Runs fn inside BEGIN IMMEDIATE … COMMIT (rolled back if it throws). */
export type WriteTx = <T>(fn: () => T) => T;
/** Runs fn inside a read transaction: one consistent snapshot. */
export type ReadTx = <T>(fn: () => T) => T;

/** Builds the two transaction runners of a connection once; outermost writes are timed for the commit histogram. */
export function transactionRunners(db: Database.Database): { write: WriteTx; read: ReadTx } {
  const runner = db.transaction((fn: () => unknown) => fn());
  return {
    write: <T>(fn: () => T): T => {
      // A nested write is a SAVEPOINT inside a timed one.
      if (db.inTransaction) return runner.immediate(fn) as T;
      const started = performance.now();
      try {
        return runner.immediate(fn) as T;
      } finally {
        timeCommit('sqlite', started);
      }
    },
    read: <T>(fn: () => T): T => runner.deferred(fn) as T,
  };
}
