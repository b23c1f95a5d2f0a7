/**
 * The embedded MailStore: one SQLite file (WAL) plus a content-addressed blob
 * directory, shareable by several mailkeep processes. Its roles live one a
 * file (accounts.ts, mailboxes.ts, messages.ts, metadata.ts, import.ts,
 * dump.ts) over the shared plumbing of core.ts; see core.ts for the
 * invariants every role keeps.
 */
import type Database from 'better-sqlite3';
import { FsBlobStore } from '../blobs/fs-blob-store.js';
import type { MailStore } from '../types.js';
import { checkStoreOptions } from '../shared/default-mailboxes.js';
import { openDatabase } from './db.js';
import { migrate } from './schema.js';
import { withAccounts } from './accounts.js';
import { withAppPasswords } from './app-passwords.js';
import { withAdmin } from './admin.js';
import { withAuthAttempts } from './auth-attempts.js';
import { withScramKeys } from './scram-keys.js';
import { SqliteCore, type SqliteStoreOptions } from './core.js';
import { withDump } from './dump.js';
import { withImport } from './import.js';
import { withMailboxes } from './mailboxes.js';
import { withMessages } from './messages.js';
import { withMetadata } from './metadata.js';
import { withSieveScripts } from './sieve-scripts.js';
import { withSieveMemory } from './sieve-memory.js';

/** The SQLite MailStore: every role over one core. Create it with openSqliteStore(). */
export class SqliteStore
  extends withSieveMemory(
    withSieveScripts(
      withDump(withImport(withMetadata(withMessages(withMailboxes(withScramKeys(withAppPasswords(withAuthAttempts(withAdmin(withAccounts(SqliteCore)))))))))),
    ),
  )
  implements MailStore
{
  /** Wraps an open, migrated connection; use openSqliteStore(). */
  constructor(db: Database.Database, blobs: FsBlobStore, opts: Omit<SqliteStoreOptions, 'path' | 'blobDir'> = {}) {
    super(db, blobs, opts);
  }
}

/** Opens (creating and migrating as needed) a SQLite store and its blob directory. */
export async function openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteStore> {
  checkStoreOptions(opts);
  const blobs = await FsBlobStore.open(opts.blobDir);
  const db = openDatabase(opts.path, opts.busyTimeoutMs);
  let store: SqliteStore;
  try {
    migrate(db);
    store = new SqliteStore(db, blobs, opts);
  } catch (err) {
    db.close();
    throw err;
  }
  try {
    // Grace periods that ended while no process ran, and blobs whose last reference went away just before a crash.
    await store.releaseExpunged();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
