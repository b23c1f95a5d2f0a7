/**
 * Opens the configured mail store: the embedded SQLite store in a data
 * directory (`<dataDir>/mailkeep.sqlite3` and `<dataDir>/blobs/`) by default,
 * or the PostgreSQL store when a `postgres://` URL is configured (store.url).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkAccess, createPrivateFile, foreignOwnerWarning, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, StoreAccessError, tightenMode } from './private-files.js';
import type { DefaultMailbox } from './shared/default-mailboxes.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { MailStore, StoreLimits } from './types.js';

/** Options of openStore. */
export interface OpenStoreOptions {
  /** Directory holding the database and blobs; created with mode 0700 if missing, tightened to it if ours. */
  dataDir: string;
  /** A `postgres://` URL selects the PostgreSQL store; null or absent: SQLite in dataDir. */
  url?: string | null;
  /** Mailboxes created with every account besides INBOX (default: Drafts, Sent, Trash, Junk, Archive). */
  defaultMailboxes?: readonly DefaultMailbox[];
  /** Receives what an administrator should fix (e.g. a data directory other users can read); log it at warn. */
  onWarning?: (message: string) => void;
  /** Receives background errors (cross-process wake-ups, blob GC). */
  onError?: (err: unknown) => void;
  /** How long expunged messages stay fetchable by sessions not yet told (RFC 2180 §4.1), in ms (default 1 hour). */
  expungedRetentionMs?: number;
  /** Per-account and per-mailbox counts enforced in the write transactions (default: none). */
  limits?: StoreLimits;
  /** SQLite: checkpoint the WAL in a worker thread instead of inside commits (a server's choice; store/sqlite/wal-checkpointer.ts). */
  checkpointThread?: boolean;
}

/** The store openStore returns: the MailStore plus the admin operations every backend offers. */
export interface OpenedStore extends MailStore {
  /** Releases expunged messages whose retention ended before `now` (ms); returns how many. */
  releaseExpunged(now?: number): Promise<number>;
  /** Deletes blobs nothing references any more. */
  collectGarbage(): Promise<void>;
}

/**
 * Mail is private (store/private-files.ts): creates the data directory 0700
 * and the database 0600, tightens what we own and reports what we cannot, and
 * fails with StoreAccessError when this user may not use the store.
 */
async function preparePrivateDataDir(dataDir: string, dbPath: string, blobDir: string, warn: (message: string) => void): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new StoreAccessError(dataDir, 'cannot be created by this user');
    throw err;
  }
  await checkAccess(dataDir, true);
  const foreign = await foreignOwnerWarning(dataDir);
  if (foreign !== null) warn(foreign);
  const paths: Array<[string, number]> = [
    [dataDir, PRIVATE_DIR_MODE],
    [blobDir, PRIVATE_DIR_MODE],
    [join(blobDir, 'tmp'), PRIVATE_DIR_MODE],
    ...['', '-wal', '-shm'].map((suffix): [string, number] => [dbPath + suffix, PRIVATE_FILE_MODE]),
  ];
  for (const [path, mode] of paths) {
    await checkAccess(path, mode === PRIVATE_DIR_MODE);
    const warning = await tightenMode(path, mode);
    if (warning !== null) warn(warning);
  }
  // SQLite gives -wal and -shm the database file's mode: create it 0600 first.
  await createPrivateFile(dbPath);
}

/** Opens (creating and migrating if needed) the configured store. */
export async function openStore(opts: OpenStoreOptions): Promise<OpenedStore> {
  const { url, ...common } = opts;
  if (url) {
    // Loaded on demand: the SQLite default never needs the pg driver.
    const { openPgStore } = await import('./postgres/pg-store.js');
    return openPgStore({ ...common, url });
  }
  const path = join(opts.dataDir, 'mailkeep.sqlite3');
  const blobDir = join(opts.dataDir, 'blobs');
  await preparePrivateDataDir(opts.dataDir, path, blobDir, opts.onWarning ?? (() => undefined));
  return openSqliteStore({
    path,
    blobDir,
    defaultMailboxes: opts.defaultMailboxes,
    onError: opts.onError,
    expungedRetentionMs: opts.expungedRetentionMs,
    limits: opts.limits,
    checkpointThread: opts.checkpointThread,
  });
}
