/**
 * Content-addressed message bytes on the local file system:
 * `<root>/<first 2 hex>/<sha256 hex>`, staged through `<root>/tmp/`.
 *
 * Invariants: a file appears under its address only by rename after fsync,
 * followed by an fsync of its directory, so an address that exists holds the
 * complete bytes (DESIGN invariant 3: never altered). Only blob ids of 64
 * lower-case hex digits are ever turned into paths (no traversal). Files are
 * deleted only by the store's garbage collector while it holds the database
 * write lock (see sqlite/core.ts).
 *
 * Composite blobs (putComposite) have no file: the database that references
 * them records (base, prefix, offset into the base), and reads of an id without a file ask it
 * through the CompositeSource the store attaches.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, readSync, statSync, unlinkSync } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Readable } from 'node:stream';
import type { BlobRange, BlobStore, BlobWriter, StagedBlob } from '../types.js';
import { StoreError } from '../types.js';
import type { BlobPlacement } from './blob-writer.js';
import { FsBlobWriter, unlinkQuietly } from './blob-writer.js';
import { composeBlob } from './composite.js';
import { processAlive } from '../../process-alive.js';

/** Ranges up to this size are read synchronously (see readFile). */
const SYNC_READ_MAX = 256 * 1024;

const BLOB_ID = /^[0-9a-f]{64}$/;
/**
 * Temp files of live processes older than this are abandoned, and so are placed
 * blobs that no row references (no APPEND or LMTP DATA lasts a day).
 */
export const STALE_TEMP_MS = 24 * 60 * 60 * 1000;
const SHARD = /^[0-9a-f]{2}$/;

/** True for a well-formed blob id (lower-case hex SHA-256). */
export function isBlobId(id: string): boolean {
  return BLOB_ID.test(id);
}

function checkId(blobId: string): void {
  if (!isBlobId(blobId)) throw new StoreError('NONEXISTENT', 'malformed blob id');
}

/** Where a blob's file lives under the blob root, `<first 2 hex>/<id>` (backups copy the same layout). */
export function blobRelativePath(blobId: string): string {
  checkId(blobId);
  return `${blobId.slice(0, 2)}${sep}${blobId}`;
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Splits a range of a composite blob into the part of its prefix and the range of its base. */
function splitRange(parts: CompositeParts, start: number, end: number | undefined): { head: Buffer; baseStart: number; baseEnd: number | undefined } {
  const n = parts.prefix.length;
  return {
    head: parts.prefix.subarray(Math.min(start, n), end === undefined ? n : Math.min(end, n)),
    baseStart: parts.baseFrom + Math.max(0, start - n),
    baseEnd: end === undefined ? undefined : parts.baseFrom + Math.max(0, end - n),
  };
}

/** Rejects malformed [start, end) ranges (end omitted = to the end of the blob). */
function checkRange(start: number, end: number | undefined): void {
  const badEnd = end !== undefined && (!Number.isSafeInteger(end) || end < start);
  if (!Number.isSafeInteger(start) || start < 0 || badEnd) throw new RangeError(`bad blob range [${start}, ${end ?? ''})`);
}

/** How a composite blob is made: `prefix` followed by the bytes of the plain blob `baseId` from offset `baseFrom` on. */
export interface CompositeParts {
  baseId: string;
  prefix: Buffer;
  baseFrom: number;
}

/** Where reads find composite blobs: the store that recorded them. */
export type CompositeSource = (blobId: string) => CompositeParts | null | Promise<CompositeParts | null>;

/** A BlobStore over a directory, shared safely by several processes. */
export class FsBlobStore implements BlobStore, BlobPlacement {
  private readonly tmpDir: string;
  private composites: CompositeSource | null = null;

  /** The root with a trailing separator: pathOf() runs for every read, and join() would normalize the whole path each time (0.4 µs). */
  private readonly rootSlash: string;

  private constructor(readonly root: string) {
    this.tmpDir = join(root, 'tmp');
    this.rootSlash = join(root, sep);
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

  /** Lets reads serve composite blobs recorded by the store (set once, when the store opens). */
  setCompositeSource(source: CompositeSource): void {
    this.composites = source;
  }

  putComposite(prefix: Buffer, base: StagedBlob, baseFrom = 0, baseBytes?: Buffer): Promise<StagedBlob> {
    return composeBlob(prefix, base, (id, from) => this.fileStream(id, from, undefined) as AsyncIterable<Buffer>, baseFrom, baseBytes);
  }

  createReadStream(blobId: string, start = 0, end?: number): Readable {
    checkId(blobId);
    checkRange(start, end);
    if (end === start) return Readable.from([]);
    if (this.composites === null || existsSync(this.pathOf(blobId))) return this.fileStream(blobId, start, end);
    return Readable.from(this.composedChunks(blobId, start, end), { objectMode: false });
  }

  async read(blobId: string, start = 0, end?: number): Promise<Buffer> {
    checkId(blobId);
    checkRange(start, end);
    try {
      return await this.readFile(blobId, start, end);
    } catch (err) {
      const parts = err instanceof StoreError && err.code === 'NONEXISTENT' ? await this.compositeOf(blobId) : null;
      if (parts === null) throw err;
      const { head, baseStart, baseEnd } = splitRange(parts, start, end);
      if (baseEnd !== undefined && baseEnd <= baseStart) return head;
      return Buffer.concat([head, await this.readFile(parts.baseId, baseStart, baseEnd)]);
    }
  }

  /**
   * Local files have no round trip to save: the reads run concurrently. Small
   * ranges of plain blobs are read into `arena` while it has room, so a FETCH
   * window allocates nothing; the rest take read()'s path.
   */
  readRanges(ranges: readonly BlobRange[], arena?: Buffer): Promise<Buffer[]> {
    let free = arena;
    return Promise.all(
      ranges.map((r) => {
        const length = r.end === undefined ? Infinity : r.end - r.start;
        if (free === undefined || !(length >= 0 && length <= SYNC_READ_MAX && length <= free.length)) return this.read(r.blobId, r.start, r.end);
        const into = free.subarray(0, length);
        free = free.subarray(length);
        return this.readInto(r.blobId, r.start, into);
      }),
    );
  }

  /** read() of a small range into `into` (returned, cut to what the file holds); a composite blob takes read()'s path. */
  private async readInto(blobId: string, start: number, into: Buffer): Promise<Buffer> {
    checkRange(start, start + into.length);
    try {
      return this.readFileSync(blobId, start, into);
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'NONEXISTENT')) throw err;
      return this.read(blobId, start, start + into.length);
    }
  }

  /** A plain blob's file as a stream ([start, end), end omitted = to the end). */
  private fileStream(blobId: string, start: number, end: number | undefined): Readable {
    // fs ranges are inclusive; ours are [start, end).
    return createReadStream(this.pathOf(blobId), { start, end: end === undefined ? undefined : end - 1 });
  }

  private async compositeOf(blobId: string): Promise<CompositeParts | null> {
    return this.composites === null ? null : await this.composites(blobId);
  }

  /** The bytes of a blob without a file: its recorded prefix, then its base's file. */
  private async *composedChunks(blobId: string, start: number, end: number | undefined): AsyncGenerator<Buffer> {
    const parts = await this.compositeOf(blobId);
    // No file and no record: the plain stream reports the missing file as before.
    if (parts === null) {
      yield* this.fileStream(blobId, start, end) as AsyncIterable<Buffer>;
      return;
    }
    const { head, baseStart, baseEnd } = splitRange(parts, start, end);
    if (head.length > 0) yield head;
    if (baseEnd !== undefined && baseEnd <= baseStart) return;
    yield* this.fileStream(parts.baseId, baseStart, baseEnd) as AsyncIterable<Buffer>;
  }

  private async readFile(blobId: string, start: number, end: number | undefined): Promise<Buffer> {
    // A small, bounded range from the page cache costs microseconds: three syscalls
    // beat four thread-pool round trips (FETCH of headers and small bodies, POP3 RETR).
    if (end !== undefined && end - start <= SYNC_READ_MAX) return this.readFileSync(blobId, start, Buffer.allocUnsafe(end - start));
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

  /** Reads the blob's bytes from `start` into `buf`; returns `buf`, cut short at the end of the file. */
  private readFileSync(blobId: string, start: number, buf: Buffer): Buffer {
    let fd: number;
    try {
      fd = openSync(this.pathOf(blobId), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('NONEXISTENT', `blob ${blobId} missing`);
      throw err;
    }
    try {
      let done = 0;
      while (done < buf.length) {
        const n = readSync(fd, buf, done, buf.length - done, start + done);
        if (n === 0) break;
        done += n;
      }
      return done === buf.length ? buf : buf.subarray(0, done);
    } finally {
      closeSync(fd);
    }
  }

  /** The file path of a blob. */
  pathOf(blobId: string): string {
    return this.rootSlash + blobRelativePath(blobId);
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
      // Same address, same length: the same bytes are already there. Touch the file: to the
      // orphan sweep it is freshly staged again, and must outlive this command's commit.
      await unlinkQuietly(tempPath);
      const now = new Date();
      await utimes(target, now, now);
    } else {
      await rename(tempPath, target);
    }
    // Also when the file was already there: its writer may have died before syncing the directory.
    await fsyncDir(dir);
  }

  /** The blob ids present in each shard directory, one shard at a time (for the orphan sweep). */
  async *shards(): AsyncGenerator<string[]> {
    for (const shard of await readdir(this.root)) {
      if (!SHARD.test(shard)) continue;
      const names = await readdir(join(this.root, shard)).catch(() => [] as string[]);
      yield names.filter(isBlobId);
    }
  }

  /** Whether the blob's file was last placed before `before` (sync: the orphan sweep checks again under the write lock). */
  placedBeforeSync(blobId: string, before: number): boolean {
    const info = statSync(this.pathOf(blobId), { throwIfNoEntry: false });
    if (!info?.isFile()) return false;
    return info.mtimeMs < before;
  }

  /** Those of `blobIds` whose files were last placed before `before` (ms since the epoch). */
  async placedBefore(blobIds: readonly string[], before: number): Promise<string[]> {
    const old: string[] = [];
    for (const id of blobIds) {
      const info = await stat(this.pathOf(id)).catch(() => null);
      if (info?.isFile() && info.mtimeMs < before) old.push(id);
    }
    return old;
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
