/**
 * Opens the configured mail store. Today that is always the embedded SQLite
 * store in a data directory: `<dataDir>/mailkeep.sqlite3` and `<dataDir>/blobs/`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DefaultMailbox, SqliteStore } from './sqlite/sqlite-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';

/** Options of openStore. */
export interface OpenStoreOptions {
  /** Directory holding the database and blobs; created with mode 0700 if missing. */
  dataDir: string;
  /** Mailboxes created with every account besides INBOX (default: Drafts, Sent, Trash, Junk, Archive). */
  defaultMailboxes?: readonly DefaultMailbox[];
  /** Receives background errors (cross-process poll, blob GC). */
  onError?: (err: unknown) => void;
  /** How long expunged messages stay fetchable by sessions not yet told (RFC 2180 §4.1), in ms (default 1 hour). */
  expungedRetentionMs?: number;
}

/** The store type openStore returns: the MailStore plus admin operations such as setQuota. */
export type OpenedStore = SqliteStore;

/** Opens (creating if needed) the store in a data directory. */
export async function openStore(opts: OpenStoreOptions): Promise<OpenedStore> {
  // Mail is private: only the server's user may read the directory.
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  return openSqliteStore({
    path: join(opts.dataDir, 'mailkeep.sqlite3'),
    blobDir: join(opts.dataDir, 'blobs'),
    defaultMailboxes: opts.defaultMailboxes,
    onError: opts.onError,
    expungedRetentionMs: opts.expungedRetentionMs,
  });
}
