/**
 * The PostgreSQL MailStore: many mailkeep nodes share one database; message
 * bytes live in it too (../blobs/pg-blob-store.ts) and wake-ups travel by
 * LISTEN/NOTIFY (../../events/pg-bus.ts). Semantics are those of the SQLite
 * store (../sqlite/sqlite-store.ts); the same test suites run on both. Its
 * roles live one a file (accounts.ts, mailboxes.ts, messages.ts,
 * metadata.ts, import.ts, dump.ts) over the shared plumbing of core.ts; see
 * core.ts for the invariants every role keeps.
 */
import type pg from 'pg';
import { warnBackgroundError } from '../shared/background.js';
import { checkStoreOptions } from '../shared/default-mailboxes.js';
import type { MailStore } from '../types.js';
import { connectionSettings, createPool, type PgConnectionSettings } from './pool.js';
import { withMetadata } from './metadata.js';
import { withSieveScripts } from './sieve-scripts.js';
import { withSieveMemory } from './sieve-memory.js';
import { migratePg } from './schema.js';
import { withAccounts } from './accounts.js';
import { withAppPasswords } from './app-passwords.js';
import { withAdmin } from './admin.js';
import { withAuthAttempts } from './auth-attempts.js';
import { withScramKeys } from './scram-keys.js';
import { PgCore, type PgStoreOptions } from './core.js';
import { withDump } from './dump.js';
import { withImport } from './import.js';
import { withMailboxes } from './mailboxes.js';
import { withMessages } from './messages.js';

/** The PostgreSQL MailStore: every role over one core. Create it with openPgStore(). */
export class PgStore
  extends withSieveMemory(
    withSieveScripts(
      withDump(withImport(withMetadata(withMessages(withMailboxes(withScramKeys(withAppPasswords(withAuthAttempts(withAdmin(withAccounts(PgCore)))))))))),
    ),
  )
  implements MailStore
{
  /** Wraps a pool on a migrated database; use openPgStore(). */
  constructor(pool: pg.Pool, settings: PgConnectionSettings, opts: Omit<PgStoreOptions, 'url'> = {}) {
    super(pool, settings, opts);
  }
}

/** Opens (migrating as needed) a PostgreSQL store and connects its change bus. */
export async function openPgStore(opts: PgStoreOptions): Promise<PgStore> {
  checkStoreOptions(opts);
  const settings = connectionSettings(opts.url);
  const pool = createPool(settings, opts.onError ?? warnBackgroundError);
  const store = new PgStore(pool, settings, opts);
  try {
    await migratePg(pool);
    await store.start();
    // Grace periods that ended while no node ran, and blobs left unreferenced by a crash.
    await store.releaseExpunged();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
