/**
 * Content-addressed message bytes on the local file system:
 * `<root>/<first 2 hex>/<sha256 hex>`, staged through `<root>/tmp/`.
 *
 * Invariants: a file appears under its address only by rename after fsync,
 * followed by an fsync of its directory, so an address that exists holds the
 * complete bytes (DESIGN invariant 3: never altered). Only blob ids of 64
 * lower-case hex digits are ever turned into paths (no traversal). Files are
 * deleted only by the store's garbage collector while it holds the database
 * write lock (see sqlite-store.ts).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, unlinkSync } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { BlobStore, BlobWriter, StagedBlob } from '../types.js';
import { StoreError } from '../types.js';
import type { BlobPlacement } from './blob-writer.js';
import { FsBlobWriter, unlinkQuietly } from './blob-writer.js';

const BLOB_ID = /^[0-9a-f]{64}$/;
/** Temp files of live processes older than this are abandoned (no APPEND or LMTP DATA lasts a day). */
const STALE_TEMP_MS = 24 * 60 * 60 * 1000;

/** True for a well-formed blob id (lower-case hex SHA-256). */
export function isBlobId(id: string): boolean {
  return BLOB_ID.test(id);
}

function checkId(blobId: string): void {
  if (!isBlobId(blobId)) throw new StoreError('NONEXISTENT', 'malformed blob id');
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Rejects malformed [start, end) ranges (end omitted = to the end of the blob). */
function checkRange(start: number, end: number | undefined): void {
  const badEnd = end !== undefined && (!Number.isSafeInteger(end) || end < start);
  if (!Number.isSafeInteger(start) || start < 0 || badEnd) throw new RangeError(`bad blob range [${start}, ${end ?? ''})`);
}

/** A BlobStore over a directory, shared safely by several processes. */
export class FsBlobStore implements BlobStore, BlobPlacement {
  private readonly tmpDir: string;

  private constructor(readonly root: string) {
    this.tmpDir = join(root, 'tmp');
  }

  /** Opens (creating if needed) a blob directory and removes temp files abandoned by crashed processes. */
  static async open(root: string): Promise<FsBlobStore> {
    const store = new FsBlobStore(root);
    await mkdir(store.tmpDir, { recursive: true, mode: 0o700 });
    await store.sweepTemp();
    return store;
  }

  createWriter(maxSize: number): BlobWriter {
    return new FsBlobWriter(this, maxSize);
  }

  async put(bytes: Buffer): Promise<StagedBlob> {
    const writer = this.createWriter(bytes.length);
    writer.write(bytes);
    return writer.finish();
  }

  createReadStream(blobId: string, start = 0, end?: number): Readable {
    checkId(blobId);
    checkRange(start, end);
    if (end === start) return Readable.from([]);
    // fs ranges are inclusive; ours are [start, end).
    return createReadStream(this.pathOf(blobId), { start, end: end === undefined ? undefined : end - 1 });
  }

  async read(blobId: string, start = 0, end?: number): Promise<Buffer> {
    checkId(blobId);
    checkRange(start, end);
    let fh;
    try {
      fh = await open(this.pathOf(blobId), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('NONEXISTENT', `blob ${blobId} missing`);
      throw err;
    }
    try {
      const size = (await fh.stat()).size;
      const from = Math.min(start, size);
      const buf = Buffer.alloc(Math.min(end ?? size, size) - from);
      let done = 0;
      while (done < buf.length) {
        const { bytesRead } = await fh.read(buf, done, buf.length - done, from + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === buf.length ? buf : buf.subarray(0, done);
    } finally {
      await fh.close();
    }
  }

  /** The file path of a blob. */
  pathOf(blobId: string): string {
    checkId(blobId);
    return join(this.root, blobId.slice(0, 2), blobId);
  }

  /** Whether the blob's file is present (sync: called inside a write transaction). */
  existsSync(blobId: string): boolean {
    return existsSync(this.pathOf(blobId));
  }

  /** Deletes a blob's file (sync: called by the GC while it holds the database write lock). */
  removeSync(blobId: string): void {
    try {
      unlinkSync(this.pathOf(blobId));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  tempPath(): string {
    // The pid lets another process's sweep tell live staging files from abandoned ones.
    return join(this.tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
  }

  async place(tempPath: string, blobId: string, size: number): Promise<void> {
    const target = this.pathOf(blobId);
    const dir = join(this.root, blobId.slice(0, 2));
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined) await fsyncDir(this.root);
    const existing = await stat(target).catch(() => null);
    if (existing?.isFile() && existing.size === size) {
      // Same address, same length: the same bytes are already there.
      await unlinkQuietly(tempPath);
    } else {
      await rename(tempPath, target);
    }
    // Also when the file was already there: its writer may have died before syncing the directory.
    await fsyncDir(dir);
  }

  /** Removes temp files left by dead processes (or older than a day); returns how many. */
  async sweepTemp(): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.tmpDir)) {
      const path = join(this.tmpDir, name);
      const pid = Number(name.split('-', 1)[0]);
      const abandoned = !Number.isInteger(pid) || (pid !== process.pid && !processAlive(pid));
      const info = await stat(path).catch(() => null);
      if (!info) continue;
      if (abandoned || Date.now() - info.mtimeMs > STALE_TEMP_MS) {
        await unlink(path).catch(() => undefined);
        removed++;
      }
    }
    return removed;
  }
}
