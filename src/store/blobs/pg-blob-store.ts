/**
 * Content-addressed message bytes in PostgreSQL: the `blobs` table (see
 * ../postgres/schema.ts), one row per distinct SHA-256, shared by accounts.
 *
 * Invariants: a blob row appears only complete (one INSERT, its bytes
 * assembled server-side from staged chunks) and its bytes never change
 * (DESIGN invariant 3); a fresh row carries `staged_until`, so the garbage
 * collector leaves it alone while the APPEND or delivery that staged it
 * commits its message; ranges are read with substring() in bounded chunks,
 * so neither side holds a whole large message for a FETCH.
 *
 * Composite blobs (putComposite) are written by the store when a message
 * first references one: a row with `prefix` and `base_id` instead of data;
 * reads compose the prefix and the base's bytes.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type pg from 'pg';
import type { BlobRange, BlobStore, BlobWriter, StagedBlob } from '../types.js';
import { StoreError } from '../types.js';
import { isBlobId } from './fs-blob-store.js';
import { composeBlob } from './composite.js';

/** Bytes per staged chunk row and per range read. */
const CHUNK = 256 * 1024;
/** Queued bytes above which write() asks the caller to wait. */
const HIGH_WATER = 2 * CHUNK;
/** Queued bytes at or below which drained() resolves. */
const LOW_WATER = CHUNK;
/** bytea values end at 1 GiB: positions beyond are clamped (they read nothing anyway). */
const MAX_BYTEA = 2 ** 30;
/** How long a staged blob is protected from the GC (no APPEND or LMTP DATA lasts a day). */
export const STAGE_GRACE_SECONDS = 24 * 60 * 60;

/** Inserts a complete blob, or re-protects an existing one with the same address. */
const UPSERT = `
  ON CONFLICT (blob_id) DO UPDATE SET staged_until = greatest(blobs.staged_until, EXCLUDED.staged_until)`;
const STAGED_UNTIL = `now() + make_interval(secs => ${STAGE_GRACE_SECONDS})`;

function checkId(blobId: string): void {
  if (!isBlobId(blobId)) throw new StoreError('NONEXISTENT', 'malformed blob id');
}

/** Rejects malformed [start, end) ranges (end omitted = to the end of the blob). */
function checkRange(start: number, end: number | undefined): void {
  const badEnd = end !== undefined && (!Number.isSafeInteger(end) || end < start);
  if (!Number.isSafeInteger(start) || start < 0 || badEnd) throw new RangeError(`bad blob range [${start}, ${end ?? ''})`);
}

/** A BlobStore over the `blobs` table of a mailkeep PostgreSQL database. */
export class PgBlobStore implements BlobStore {
  constructor(private readonly pool: pg.Pool) {}

  createWriter(maxSize: number): BlobWriter {
    return new PgBlobWriter(this.pool, maxSize);
  }

  putComposite(prefix: Buffer, base: StagedBlob, baseFrom = 0, baseBytes?: Buffer): Promise<StagedBlob> {
    return composeBlob(prefix, base, (id, from) => this.chunks(id, from, undefined), baseFrom, baseBytes);
  }

  async put(bytes: Buffer): Promise<StagedBlob> {
    const blobId = createHash('sha256').update(bytes).digest('hex');
    await this.pool.query(`INSERT INTO blobs (blob_id, size, data, staged_until) VALUES ($1, $2, $3, ${STAGED_UNTIL}) ${UPSERT}`, [
      blobId,
      bytes.length,
      bytes,
    ]);
    return { blobId, size: bytes.length };
  }

  createReadStream(blobId: string, start = 0, end?: number): Readable {
    checkId(blobId);
    checkRange(start, end);
    return Readable.from(this.chunks(blobId, start, end), { objectMode: false });
  }

  async read(blobId: string, start = 0, end?: number): Promise<Buffer> {
    checkId(blobId);
    checkRange(start, end);
    return this.readRange(blobId, start, end === undefined ? null : end - start);
  }

  /**
   * All ranges in one query (row 5 of the benchmark paid a round trip per
   * message). Composite blobs, and ranges past what one bytea can hold,
   * take read()'s path.
   */
  async readRanges(ranges: readonly BlobRange[]): Promise<Buffer[]> {
    for (const r of ranges) {
      checkId(r.blobId);
      checkRange(r.start, r.end);
    }
    const out: Array<Buffer | undefined> = new Array(ranges.length);
    const plain = ranges.map((r, i) => ({ ...r, i })).filter((r) => (r.end ?? r.start) < MAX_BYTEA);
    if (plain.length > 0) {
      const res = await this.pool.query<{ i: number; part: Buffer | null; composite: boolean }>(
        `SELECT r.i, substring(b.data FROM r.s FOR r.l) AS part, b.base_id IS NOT NULL AS composite
           FROM unnest($1::text[], $2::integer[], $3::integer[], $4::integer[]) AS r(id, s, l, i)
           JOIN blobs b ON b.blob_id = r.id`,
        [
          plain.map((r) => r.blobId),
          plain.map((r) => r.start + 1),
          plain.map((r) => (r.end === undefined ? MAX_BYTEA : r.end - r.start)),
          plain.map((r) => r.i),
        ],
      );
      for (const row of res.rows) if (!row.composite) out[row.i] = row.part ?? Buffer.alloc(0);
    }
    // Composite, oversized or missing (read() says which): one at a time.
    return Promise.all(ranges.map((r, i) => out[i] ?? this.read(r.blobId, r.start, r.end)));
  }

  /** Whether a blob row is present (staged or referenced). */
  async exists(blobId: string): Promise<boolean> {
    checkId(blobId);
    return (await this.pool.query('SELECT 1 FROM blobs WHERE blob_id = $1', [blobId])).rowCount === 1;
  }

  /** Pulls one chunk per downstream read: backpressure comes from Readable.from. */
  private async *chunks(blobId: string, start: number, end: number | undefined): AsyncGenerator<Buffer> {
    for (let at = start; end === undefined || at < end; ) {
      const want = end === undefined ? CHUNK : Math.min(CHUNK, end - at);
      const part = await this.readRange(blobId, at, want);
      if (part.length > 0) yield part;
      if (part.length < want) return;
      at += part.length;
    }
  }

  /** [start, start + length) (length null = to the end) of a plain or composite blob. */
  private async readRange(blobId: string, start: number, length: number | null): Promise<Buffer> {
    const row = await this.rangeOf(blobId, start, length);
    if (!row) throw new StoreError('NONEXISTENT', `blob ${blobId} missing`);
    if (row.base_id === null || row.prefix === null) return row.part ?? Buffer.alloc(0);
    const n = row.prefix.length;
    const end = length === null ? null : start + length;
    const head = row.prefix.subarray(Math.min(start, n), end === null ? n : Math.min(end, n));
    const baseStart = row.base_from + Math.max(0, start - n);
    const baseLength = end === null ? null : row.base_from + Math.max(0, end - n) - baseStart;
    if (baseLength !== null && baseLength <= 0) return head;
    const base = await this.rangeOf(row.base_id, baseStart, baseLength);
    if (!base?.part) throw new StoreError('NONEXISTENT', `base blob ${row.base_id} missing`);
    return head.length === 0 ? base.part : Buffer.concat([head, base.part]);
  }

  /** One row's range of data (substring() positions are 1-based) and, for a composite, its parts. */
  private async rangeOf(blobId: string, start: number, length: number | null) {
    const from = Math.min(start, MAX_BYTEA) + 1;
    const res = await this.pool.query<{ part: Buffer | null; base_id: string | null; prefix: Buffer | null; base_from: number }>(
      length === null
        ? 'SELECT substring(data FROM $2::integer) AS part, base_id, prefix, base_from::integer FROM blobs WHERE blob_id = $1'
        : 'SELECT substring(data FROM $2::integer FOR $3::integer) AS part, base_id, prefix, base_from::integer FROM blobs WHERE blob_id = $1',
      length === null ? [blobId, from] : [blobId, from, Math.min(length, MAX_BYTEA)],
    );
    return res.rows[0];
  }
}

/**
 * Receives a message body while it arrives: small bodies are kept in memory
 * and inserted in one statement; larger ones are written as CHUNK-sized rows
 * to blob_staging (at most HIGH_WATER bytes queued in this process) and
 * assembled into their blob row by finish().
 */
class PgBlobWriter implements BlobWriter {
  private readonly hash = createHash('sha256');
  private readonly stageId = randomUUID();
  private size = 0;
  /** Bytes not yet sent to the database. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes handed to an INSERT that has not completed. */
  private inFlight = 0;
  private chunksSent = 0;
  /** Serializes staging INSERTs in arrival order. */
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private overflow = false;
  private state: 'open' | 'finishing' | 'done' = 'open';
  private waiters: Array<() => void> = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly maxSize: number,
  ) {}

  write(chunk: Buffer): boolean {
    if (this.state !== 'open') throw new Error('BlobWriter: write after finish() or abort()');
    // After a failure or overflow the caller still has to consume its input; we just drop it.
    if (this.failure !== null || this.overflow) return true;
    if (this.size + chunk.length > this.maxSize) {
      this.overflow = true;
      this.pending = [];
      this.pendingBytes = 0;
      this.wake();
      return true;
    }
    this.size += chunk.length;
    this.hash.update(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= CHUNK) this.sendFullChunks();
    return this.queued() < HIGH_WATER;
  }

  drained(): Promise<void> {
    if (this.queued() <= LOW_WATER || this.failure !== null || this.overflow) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async finish(): Promise<StagedBlob> {
    this.close();
    try {
      if (this.overflow) throw new StoreError('LIMIT', `message larger than ${this.maxSize} bytes`);
      const blobId = this.hash.digest('hex');
      if (this.chunksSent === 0) {
        // Small body: one statement, nothing staged.
        await this.pool.query(`INSERT INTO blobs (blob_id, size, data, staged_until) VALUES ($1, $2, $3, ${STAGED_UNTIL}) ${UPSERT}`, [
          blobId,
          this.size,
          Buffer.concat(this.pending, this.pendingBytes),
        ]);
      } else {
        if (this.pendingBytes > 0) this.sendChunk(Buffer.concat(this.pending, this.pendingBytes));
        this.pending = [];
        this.pendingBytes = 0;
        await this.chain;
        if (this.failure !== null) throw this.failure;
        await this.assemble(blobId);
      }
      return { blobId, size: this.size };
    } finally {
      this.state = 'done';
      this.pending = [];
      // Best effort: the blob is complete either way, and the GC sweeps staging rows left behind.
      await this.discard().catch(() => undefined);
    }
  }

  async abort(): Promise<void> {
    // Aborting a finished writer is harmless: its blob stays staged until the GC's grace period ends.
    if (this.state === 'done') return;
    this.close();
    this.state = 'done';
    this.pending = [];
    await this.discard();
  }

  /** Bytes held in memory or in an unfinished INSERT. */
  private queued(): number {
    return this.pendingBytes + this.inFlight;
  }

  private close(): void {
    if (this.state !== 'open') throw new Error('BlobWriter: already finished or aborted');
    this.state = 'finishing';
  }

  /** Sends every complete CHUNK of pending bytes; the remainder stays pending. */
  private sendFullChunks(): void {
    const all = Buffer.concat(this.pending, this.pendingBytes);
    let at = 0;
    for (; all.length - at >= CHUNK; at += CHUNK) this.sendChunk(all.subarray(at, at + CHUNK));
    const rest = all.subarray(at);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
  }

  /** Queues one staging row behind the earlier ones. */
  private sendChunk(data: Buffer): void {
    const seq = this.chunksSent++;
    this.inFlight += data.length;
    this.chain = this.chain
      .then(async () => {
        if (this.failure !== null || this.overflow) return;
        await this.pool.query('INSERT INTO blob_staging (stage_id, seq, data) VALUES ($1, $2, $3)', [this.stageId, seq, data]);
      })
      .catch((err: unknown) => {
        this.failure ??= err;
      })
      .finally(() => {
        this.inFlight -= data.length;
        if (this.queued() <= LOW_WATER) this.wake();
      });
  }

  /** Builds the blob row from the staged chunks in one statement (server-side concatenation). */
  private async assemble(blobId: string): Promise<void> {
    const res = await this.pool.query(
      `INSERT INTO blobs (blob_id, size, data, staged_until)
       SELECT $1, $2, string_agg(data, ''::bytea ORDER BY seq), ${STAGED_UNTIL}
       FROM blob_staging WHERE stage_id = $3
       HAVING sum(length(data)) = $2 AND count(*) = $4
       ${UPSERT}`,
      [blobId, this.size, this.stageId, this.chunksSent],
    );
    if (res.rowCount !== 1) throw new Error('staged blob chunks are incomplete');
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Waits for queued INSERTs, then removes this writer's staging rows (idempotent). */
  private async discard(): Promise<void> {
    await this.chain;
    if (this.chunksSent === 0) return;
    await this.pool.query('DELETE FROM blob_staging WHERE stage_id = $1', [this.stageId]);
  }
}
