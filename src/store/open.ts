/**
 * Opens the configured mail store: the embedded SQLite store in a data
 * directory (`<dataDir>/mailkeep.sqlite3` and `<dataDir>/blobs/`) by default,
 * or the PostgreSQL store when a `postgres://` URL is configured (store.url).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DefaultMailbox } from './shared/default-mailboxes.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { MailStore, StoreLimits } from './types.js';

/** Options of openStore. */
export interface OpenStoreOptions {
  /** Directory holding the database and blobs; created with mode 0700 if missing. */
  dataDir: string;
  /** A `postgres://` URL selects the PostgreSQL store; null or absent: SQLite in dataDir. */
  url?: string | null;
  /** Mailboxes created with every account besides INBOX (default: Drafts, Sent, Trash, Junk, Archive). */
  defaultMailboxes?: readonly DefaultMailbox[];
  /** Receives background errors (cross-process wake-ups, blob GC). */
  onError?: (err: unknown) => void;
  /** How long expunged messages stay fetchable by sessions not yet told (RFC 2180 §4.1), in ms (default 1 hour). */
  expungedRetentionMs?: number;
  /** Per-account and per-mailbox counts enforced in the write transactions (default: none). */
  limits?: StoreLimits;
}

/** The store openStore returns: the MailStore plus the admin operations every backend offers. */
export interface OpenedStore extends MailStore {
  /** Releases expunged messages whose retention ended before `now` (ms); returns how many. */
  releaseExpunged(now?: number): Promise<number>;
  /** Deletes blobs nothing references any more. */
  collectGarbage(): Promise<void>;
}

/** Opens (creating and migrating if needed) the configured store. */
export async function openStore(opts: OpenStoreOptions): Promise<OpenedStore> {
  const { url, ...common } = opts;
  if (url) {
    // Loaded on demand: the SQLite default never needs the pg driver.
    const { openPgStore } = await import('./postgres/pg-store.js');
    return openPgStore({ ...common, url });
  }
  // Mail is private: only the server's user may read the directory.
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  return openSqliteStore({
    path: join(opts.dataDir, 'mailkeep.sqlite3'),
    blobDir: join(opts.dataDir, 'blobs'),
    defaultMailboxes: opts.defaultMailboxes,
    onError: opts.onError,
    expungedRetentionMs: opts.expungedRetentionMs,
    limits: opts.limits,
  });
}
