/**
 * Opening the SQLite file with the settings every mailkeep process relies on.
 *
 * Invariants: WAL (readers never block the writer, several processes share
 * the file); synchronous=FULL, so a committed transaction survives kill -9 and
 * power loss (DESIGN invariant 1); a busy timeout so opening (migrations)
 * waits for another process's write lock instead of failing — once open, the
 * store waits for it asynchronously (write-queue.ts); foreign keys enforced.
 */
import Database from 'better-sqlite3';

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

/** Runs fn inside a write transaction (rolled back if it throws); resolves after COMMIT (write-queue.ts). */
export type WriteTx = <T>(fn: () => T) => Promise<T>;
/** Runs fn inside a read transaction: one consistent snapshot. */
export type ReadTx = <T>(fn: () => T) => T;

/** Builds the read transaction runner of a connection once. */
export function readRunner(db: Database.Database): ReadTx {
  const runner = db.transaction((fn: () => unknown) => fn());
  return <T>(fn: () => T): T => runner.deferred(fn) as T;
}
