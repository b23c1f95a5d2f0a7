/**
 * `mailkeep backup`: a consistent copy of a running SQLite store.
 *
 * 1. The database, through SQLite's online backup API (better-sqlite3's
 *    backup(), a step of pages per event-loop turn) on a connection of our
 *    own: servers keep reading and writing. SQLite restarts a backup when
 *    another connection writes between two steps, so each step without
 *    progress doubles the step size; under any write load the copy finishes
 *    once a step covers the whole file. The snapshot holds every change
 *    committed before the backup began (DESIGN invariant 1: nothing was
 *    acknowledged before its commit).
 * 2. In the copy: blob rows nothing references are dropped (what the
 *    server's GC does), the journal becomes a plain rollback journal (one
 *    self-contained file), and quick_check must pass.
 * 3. Every message file the copy references is copied and verified against
 *    its name (its SHA-256). Blobs are immutable and a server deletes a file
 *    only once no row references it, so the files are still there, unless
 *    the messages were deleted and their blobs released during the backup:
 *    then the whole backup is taken again (at most MAX_ATTEMPTS times).
 * 4. blobs.txt and manifest.json, last (manifest.ts).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { blobRelativePath } from '../blobs/fs-blob-store.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-files.js';
import { copyHashed, eachLimited, emptyDir, ensureEmptyDir, hashFile, syncDir } from './backup-files.js';
import {
  BACKUP_FORMAT,
  BACKUP_VERSION,
  BackupError,
  BLOB_DIR,
  BLOB_LIST_FILE,
  DATABASE_FILE,
  MANIFEST_FILE,
  manifestText,
  type BackupManifest,
} from './manifest.js';

/** Where progress goes (the CLI's Progress): totals once per phase, then increments. */
export interface BackupProgress {
  begin(totals: { messages?: number; bytes?: number }): void;
  advance(items: number, bytes: number): void;
}

/** Options of backupSqlite. */
export interface BackupOptions {
  /** The data directory of the running server (mailkeep.sqlite3, blobs/). */
  dataDir: string;
  /** The backup directory: created, or empty. */
  target: string;
  /** Progress of the message file copy (files and bytes). */
  progress?: BackupProgress;
}

/** Pages per step at first (4 MiB of 4 KiB pages): short steps leave the server's writers room. */
const FIRST_STEP_PAGES = 1024;
/** Steps without progress before giving up; doubling makes a step cover any file long before. */
const MAX_STALLED_STEPS = 40;
/** Whole attempts when message files vanish during the copy (deleted mail released meanwhile). */
const MAX_ATTEMPTS = 3;
/** Blob rows read per page, and files copied at once. */
const BLOB_PAGE = 500;
const COPY_CONCURRENCY = 4;

/** A referenced message file was gone: the backup is retaken. */
class BlobVanished extends Error {}

/** Copies the live database into `dest` with the online backup API. */
async function snapshotDatabase(dbPath: string, dest: string): Promise<void> {
  const source = new Database(dbPath, { fileMustExist: true, timeout: 5000 });
  try {
    let step = FIRST_STEP_PAGES;
    let lastRemaining = Number.POSITIVE_INFINITY;
    let stalled = 0;
    await source.backup(dest, {
      progress({ remainingPages }) {
        if (remainingPages >= lastRemaining) {
          // Restarted: another connection wrote between two steps.
          if (++stalled > MAX_STALLED_STEPS) throw new BackupError('the database changed during every backup step; try again');
          step *= 2;
        }
        lastRemaining = remainingPages;
        return step;
      },
    });
  } finally {
    source.close();
  }
}

/** Drops unreferenced blob rows (composites first free their bases), makes the copy one file, and checks it. */
function finishCopy(db: Database.Database): void {
  // As the server runs: deleting a blob row cascades to its stored header facts.
  db.pragma('foreign_keys = ON');
  const garbage = db.prepare('DELETE FROM blobs WHERE refcount = 0');
  while (garbage.run().changes > 0);
  db.pragma('journal_mode = DELETE');
  const check = db.pragma('quick_check', { simple: true });
  if (check !== 'ok') throw new BackupError(`the database copy fails quick_check: ${String(check)}`);
}

/** Copies the message files the copy references; writes blobs.txt; returns its hash and the totals. */
async function copyBlobs(db: Database.Database, from: string, to: string, progress: BackupProgress | undefined): Promise<BackupManifest['blobs']> {
  const totals = db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM blobs WHERE base_id IS NULL').get() as { n: number; bytes: number };
  progress?.begin({ messages: totals.n, bytes: totals.bytes });
  const page = db.prepare<[string, number], { blob_id: string; size: number }>(
    'SELECT blob_id, size FROM blobs WHERE base_id IS NULL AND blob_id > ? ORDER BY blob_id LIMIT ?',
  );
  const listHash = createHash('sha256');
  const list = createWriteStream(join(to, BLOB_LIST_FILE), { flags: 'wx', mode: PRIVATE_FILE_MODE, flush: true });
  const listClosed = new Promise<void>((resolve, reject) => list.on('close', resolve).on('error', reject));
  const shards = new Set<string>();
  let after = '';
  try {
    for (;;) {
      const rows = page.all(after, BLOB_PAGE);
      if (rows.length === 0) break;
      after = rows.at(-1)!.blob_id;
      await eachLimited(rows, COPY_CONCURRENCY, async ({ blob_id: id, size }) => {
        const relative = blobRelativePath(id);
        const shard = relative.slice(0, 2);
        if (!shards.has(shard)) {
          await mkdir(join(to, BLOB_DIR, shard), { recursive: true, mode: PRIVATE_DIR_MODE });
          shards.add(shard);
        }
        let copied;
        try {
          copied = await copyHashed(join(from, relative), join(to, BLOB_DIR, relative));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobVanished(id);
          throw err;
        }
        if (copied.sha256 !== id || copied.size !== size)
          throw new BackupError(`message file ${id} in the data directory is damaged (its bytes do not match its name)`);
        progress?.advance(1, size);
      });
      const lines = rows.map((r) => `${r.blob_id} ${r.size}\n`).join('');
      listHash.update(lines);
      if (!list.write(lines)) await new Promise<void>((resolve) => list.once('drain', () => resolve()));
    }
  } finally {
    list.end();
    await listClosed;
  }
  for (const shard of shards) await syncDir(join(to, BLOB_DIR, shard));
  return { listSha256: listHash.digest('hex'), count: totals.n, bytes: totals.bytes };
}

/** One attempt: snapshot, copy of the files, manifest. */
async function attempt(opts: BackupOptions): Promise<BackupManifest> {
  const dbCopy = join(opts.target, DATABASE_FILE);
  const startedAt = new Date().toISOString();
  await snapshotDatabase(join(opts.dataDir, 'mailkeep.sqlite3'), dbCopy);
  const finishedAt = new Date().toISOString();
  const db = new Database(dbCopy, { fileMustExist: true });
  let blobs: BackupManifest['blobs'];
  let schemaVersion: number;
  try {
    finishCopy(db);
    schemaVersion = db.pragma('user_version', { simple: true }) as number;
    await mkdir(join(opts.target, BLOB_DIR), { mode: PRIVATE_DIR_MODE });
    blobs = await copyBlobs(db, join(opts.dataDir, 'blobs'), opts.target, opts.progress);
  } finally {
    db.close();
  }
  const database = await hashFile(dbCopy);
  const manifest: BackupManifest = { format: BACKUP_FORMAT, version: BACKUP_VERSION, startedAt, finishedAt, schemaVersion, database, blobs };
  // Written last under a temporary name: a manifest exists only beside a complete backup.
  const partial = join(opts.target, `${MANIFEST_FILE}.partial`);
  await writeFile(partial, manifestText(manifest), { mode: PRIVATE_FILE_MODE, flush: true });
  await rename(partial, join(opts.target, MANIFEST_FILE));
  await syncDir(join(opts.target, BLOB_DIR));
  await syncDir(opts.target);
  return manifest;
}

/** Takes a backup of a (running or stopped) SQLite data directory into an empty target directory. */
export async function backupSqlite(opts: BackupOptions): Promise<BackupManifest> {
  const dbPath = join(opts.dataDir, 'mailkeep.sqlite3');
  if (!(await stat(dbPath).catch(() => null))?.isFile()) throw new BackupError(`no mailkeep store in ${opts.dataDir} (mailkeep.sqlite3 is missing)`);
  await ensureEmptyDir(opts.target, () => new BackupError(`${opts.target} is not empty: back up into a new or empty directory`));
  for (let n = 1; ; n++) {
    try {
      return await attempt(opts);
    } catch (err) {
      // The target was empty when we began: whatever is there is ours.
      await emptyDir(opts.target);
      if (!(err instanceof BlobVanished) || n >= MAX_ATTEMPTS) {
        if (err instanceof BlobVanished)
          throw new BackupError(`message files kept disappearing during ${MAX_ATTEMPTS} attempts (mail being deleted); try again`);
        throw err;
      }
    }
  }
}
