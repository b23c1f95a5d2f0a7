/**
 * `mailkeep restore`: a backup directory (sqlite-backup.ts, manifest.ts)
 * into an empty data directory, verifying as it copies: the database's
 * SHA-256 and size, the blob list's SHA-256, each message file against its
 * name, and then that the restored database references exactly the files
 * restored (every referenced blob present, none missing) and passes
 * quick_check. Anything wrong: the target is emptied again and nothing is
 * left half-restored.
 */
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { blobRelativePath, isBlobId } from '../blobs/fs-blob-store.js';
import { PRIVATE_DIR_MODE } from '../private-files.js';
import { MIGRATIONS } from '../sqlite/schema.js';
import { copyHashed, eachLimited, emptyDir, ensureEmptyDir, hashFile, syncDir } from './backup-files.js';
import { BackupError, BLOB_DIR, BLOB_LIST_FILE, DATABASE_FILE, readManifest, type BackupManifest } from './manifest.js';
import type { BackupProgress } from './sqlite-backup.js';

/** Options of restoreSqlite. */
export interface RestoreOptions {
  /** The backup directory. */
  from: string;
  /** The new data directory: created, or empty. */
  dataDir: string;
  progress?: BackupProgress;
}

/** A blob list line is 64 hex digits, a space and a size: longer input is not a list. */
const MAX_LINE = 100;
const COPY_CONCURRENCY = 4;
const BATCH = 500;

/** The lines of the blob list as {id, size}, in batches; each checked and in strictly increasing order. */
async function* listedBlobs(path: string): AsyncGenerator<Array<{ id: string; size: number }>> {
  let pending = '';
  let previous = '';
  let batch: Array<{ id: string; size: number }> = [];
  for await (const chunk of createReadStream(path, { encoding: 'latin1' }) as AsyncIterable<string>) {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    if (pending.length > MAX_LINE) throw new BackupError(`${BLOB_LIST_FILE} has a line too long to be a blob entry`);
    for (const line of lines) {
      const m = /^([0-9a-f]{64}) (\d{1,15})$/.exec(line);
      if (!m || !isBlobId(m[1]!) || m[1]! <= previous)
        throw new BackupError(`${BLOB_LIST_FILE}: malformed or unsorted line ${JSON.stringify(line.slice(0, MAX_LINE))}`);
      previous = m[1]!;
      batch.push({ id: m[1]!, size: Number(m[2]) });
      if (batch.length >= BATCH) {
        yield batch;
        batch = [];
      }
    }
  }
  if (pending !== '') throw new BackupError(`${BLOB_LIST_FILE} ends in the middle of a line`);
  if (batch.length > 0) yield batch;
}

/** Copies and verifies the listed message files; returns how many. */
async function restoreBlobs(opts: RestoreOptions, progress: BackupProgress | undefined): Promise<number> {
  const shards = new Set<string>();
  let restored = 0;
  for await (const batch of listedBlobs(join(opts.from, BLOB_LIST_FILE))) {
    await eachLimited(batch, COPY_CONCURRENCY, async ({ id, size }) => {
      const relative = blobRelativePath(id);
      const shard = relative.slice(0, 2);
      if (!shards.has(shard)) {
        await mkdir(join(opts.dataDir, 'blobs', shard), { recursive: true, mode: PRIVATE_DIR_MODE });
        shards.add(shard);
      }
      let copied;
      try {
        copied = await copyHashed(join(opts.from, BLOB_DIR, relative), join(opts.dataDir, 'blobs', relative));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupError(`the backup lacks message file ${id}`);
        throw err;
      }
      if (copied.sha256 !== id || copied.size !== size) throw new BackupError(`message file ${id} in the backup is damaged (checksum mismatch)`);
      progress?.advance(1, size);
    });
    restored += batch.length;
  }
  for (const shard of shards) await syncDir(join(opts.dataDir, 'blobs', shard));
  return restored;
}

/** Every message file the restored database references was restored, and it passes quick_check. */
async function verifyDatabase(dataDir: string, manifest: BackupManifest): Promise<void> {
  const db = new Database(join(dataDir, 'mailkeep.sqlite3'), { fileMustExist: true, readonly: true });
  try {
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new BackupError(`the restored database fails quick_check: ${String(check)}`);
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version !== manifest.schemaVersion) throw new BackupError(`the database has schema version ${version}, the manifest says ${manifest.schemaVersion}`);
    const page = db.prepare<[string, number], { blob_id: string; size: number }>(
      'SELECT blob_id, size FROM blobs WHERE base_id IS NULL AND blob_id > ? ORDER BY blob_id LIMIT ?',
    );
    let referenced = 0;
    for (let after = ''; ; ) {
      const rows = page.all(after, BATCH);
      if (rows.length === 0) break;
      after = rows.at(-1)!.blob_id;
      for (const row of rows) {
        const file = await stat(join(dataDir, 'blobs', blobRelativePath(row.blob_id))).catch(() => null);
        if (file?.size !== row.size) throw new BackupError(`message file ${row.blob_id} referenced by the database is not in the backup`);
      }
      referenced += rows.length;
    }
    if (referenced !== manifest.blobs.count)
      throw new BackupError(`the database references ${referenced} message files, the backup holds ${manifest.blobs.count}`);
  } finally {
    db.close();
  }
}

/** Restores a backup into an empty data directory; returns its manifest. */
export async function restoreSqlite(opts: RestoreOptions): Promise<BackupManifest> {
  const manifest = await readManifest(opts.from);
  if (manifest.schemaVersion > MIGRATIONS.length) {
    throw new BackupError(
      `the backup has schema version ${manifest.schemaVersion}, newer than this mailkeep supports (${MIGRATIONS.length}): restore with a newer mailkeep`,
    );
  }
  const list = await hashFile(join(opts.from, BLOB_LIST_FILE)).catch(() => null);
  if (list?.sha256 !== manifest.blobs.listSha256) throw new BackupError(`${BLOB_LIST_FILE} is missing or does not match the manifest`);
  await ensureEmptyDir(opts.dataDir, () => new BackupError(`${opts.dataDir} is not empty: restore into a new or empty data directory`));
  try {
    const database = await copyHashed(join(opts.from, DATABASE_FILE), join(opts.dataDir, 'mailkeep.sqlite3'));
    if (database.sha256 !== manifest.database.sha256 || database.size !== manifest.database.size) {
      throw new BackupError(`${DATABASE_FILE} in the backup is damaged (checksum mismatch)`);
    }
    await mkdir(join(opts.dataDir, 'blobs', 'tmp'), { recursive: true, mode: PRIVATE_DIR_MODE });
    opts.progress?.begin({ messages: manifest.blobs.count, bytes: manifest.blobs.bytes });
    const restored = await restoreBlobs(opts, opts.progress);
    if (restored !== manifest.blobs.count) throw new BackupError(`${BLOB_LIST_FILE} lists ${restored} files, the manifest ${manifest.blobs.count}`);
    await verifyDatabase(opts.dataDir, manifest);
    await syncDir(join(opts.dataDir, 'blobs'));
    await syncDir(opts.dataDir);
  } catch (err) {
    await emptyDir(opts.dataDir);
    throw err;
  }
  return manifest;
}
