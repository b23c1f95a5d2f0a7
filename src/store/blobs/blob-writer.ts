/**
 * Streams one message body to a temp file while hashing it (SHA-256), then
 * publishes it under its content address.
 *
 * Invariants: bytes are written exactly as received; at most HIGH_WATER bytes
 * are queued in memory (write() returns false above it); nothing beyond
 * maxSize is kept; finish() resolves only after the file and its directory
 * entry are fsynced, so a message row committed afterwards never points at
 * bytes a crash could lose.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open, unlink } from 'node:fs/promises';
import type { BlobWriter, StagedBlob } from '../types.js';
import { StoreError } from '../types.js';

/** Queued bytes above which write() asks the caller to wait. */
const HIGH_WATER = 256 * 1024;
/** Queued bytes at or below which drained() resolves. */
const LOW_WATER = HIGH_WATER / 2;

/** Where a writer puts its temp file and how it publishes the finished blob. */
export interface BlobPlacement {
  /** A fresh, unused temp file path. */
  tempPath(): string;
  /** Moves a complete, fsynced temp file to its content address (or drops it if already there). */
  place(tempPath: string, blobId: string, size: number): Promise<void>;
}

/** Removes a file, ignoring that it is already gone. */
export async function unlinkQuietly(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, offset, chunk.length - offset, null);
    offset += bytesWritten;
  }
}

/** A BlobWriter backed by a temp file under the blob store's tmp directory. */
export class FsBlobWriter implements BlobWriter {
  private readonly hash = createHash('sha256');
  private readonly tmp: string;
  private size = 0;
  private queued = 0;
  private fh: FileHandle | null = null;
  /** Serializes file operations in arrival order. */
  private chain: Promise<void>;
  private failure: unknown = null;
  private overflow = false;
  private state: 'open' | 'closing' = 'open';
  private waiters: Array<() => void> = [];

  constructor(
    private readonly placement: BlobPlacement,
    private readonly maxSize: number,
  ) {
    this.tmp = placement.tempPath();
    this.chain = open(this.tmp, 'wx', 0o600).then(
      (fh) => {
        this.fh = fh;
      },
      (err: unknown) => {
        this.failure = err;
      },
    );
  }

  write(chunk: Buffer): boolean {
    if (this.state !== 'open') throw new Error('BlobWriter: write after finish() or abort()');
    // After a failure or overflow the caller still has to consume its input; we just drop it.
    if (this.failure !== null || this.overflow) return true;
    if (this.size + chunk.length > this.maxSize) {
      this.overflow = true;
      this.enqueue(() => this.discard());
      this.wake();
      return true;
    }
    this.size += chunk.length;
    this.hash.update(chunk);
    this.queued += chunk.length;
    this.enqueue(async () => {
      try {
        if (this.fh && this.failure === null && !this.overflow) await writeAll(this.fh, chunk);
      } finally {
        this.queued -= chunk.length;
        if (this.queued <= LOW_WATER) this.wake();
      }
    });
    return this.queued < HIGH_WATER;
  }

  drained(): Promise<void> {
    if (this.queued <= LOW_WATER || this.failure !== null || this.overflow) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async finish(): Promise<StagedBlob> {
    this.close();
    await this.chain;
    if (this.overflow) {
      await this.discard();
      throw new StoreError('LIMIT', `message larger than ${this.maxSize} bytes`);
    }
    const fh = this.fh;
    if (this.failure !== null || !fh) {
      await this.discard();
      throw this.failure instanceof Error ? this.failure : new Error(String(this.failure));
    }
    try {
      await fh.sync();
      await fh.close();
      this.fh = null;
      const blobId = this.hash.digest('hex');
      await this.placement.place(this.tmp, blobId, this.size);
      return { blobId, size: this.size };
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  async abort(): Promise<void> {
    this.close();
    await this.chain;
    await this.discard();
  }

  private close(): void {
    if (this.state !== 'open') throw new Error('BlobWriter: already finished or aborted');
    this.state = 'closing';
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: unknown) => {
      this.failure ??= err;
      this.wake();
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Closes and removes the temp file (idempotent). */
  private async discard(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close().catch(() => undefined);
    await unlinkQuietly(this.tmp);
  }
}
