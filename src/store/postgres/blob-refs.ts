/**
 * Blob reference counting inside a store transaction.
 *
 * Invariants: blob rows are locked in blob_id order, after every other lock
 * of the transaction (the store's lock order ends with blobs); a reference to
 * a composite counts on the composite and on its base, so removing a
 * reference never has to find another row later; a new reference to a blob
 * that is not there fails the transaction (StoreError CANNOT: the staged
 * blob was collected, the client may retry), it never leaves a dangling row.
 */
import type pg from 'pg';
import type { StagedBlob } from '../types.js';
import { StoreError } from '../types.js';

/** A change to one blob's references, and the analysis and header facts to store if it has none yet. */
export interface RefChange {
  n: number;
  analysis: Buffer | null;
  /** mime/header-facts.ts encoding; given together with the analysis. */
  headerFacts: string | null;
}

/** How to create a composite row when it is first referenced. */
export interface CompositeRow {
  size: number;
  baseId: string;
  prefix: Buffer;
  baseFrom: number;
}

/** Reference changes by blob id, plus the composites that may need a row. */
export class BlobRefs {
  readonly changes = new Map<string, RefChange>();
  readonly composites = new Map<string, CompositeRow>();

  /** Adds n references to a blob id (negative to drop). */
  add(blobId: string, n: number, analysis: Buffer | null = null, headerFacts: string | null = null): this {
    const ref = this.changes.get(blobId);
    if (ref) {
      ref.n += n;
      ref.analysis ??= analysis;
      ref.headerFacts ??= headerFacts;
    } else {
      this.changes.set(blobId, { n, analysis, headerFacts });
    }
    return this;
  }

  /** One new reference to a staged blob; a composite's analysis belongs to its base (types.ts NewMessage). */
  addStaged(blob: StagedBlob, analysis: Buffer, headerFacts: string): this {
    const composite = blob.composite;
    if (!composite) return this.add(blob.blobId, 1, analysis, headerFacts);
    this.composites.set(blob.blobId, { size: blob.size, baseId: composite.base.blobId, prefix: composite.prefix, baseFrom: composite.baseFrom });
    this.add(blob.blobId, 1);
    // Zero here: the base's count follows the composite's in apply(); this only carries the analysis.
    return this.add(composite.base.blobId, 0, analysis, headerFacts);
  }

  /** Adds `sign` references per row (copies, removals). */
  addRows(rows: readonly { blob_id: string }[], sign: 1 | -1): this {
    for (const r of rows) this.add(r.blob_id, sign);
    return this;
  }

  /** Applies the changes in the transaction of client `c`. */
  async apply(c: pg.ClientBase): Promise<void> {
    const ids = [...this.changes.keys()];
    if (ids.length === 0) return;
    const lockSql = `SELECT blob_id, base_id FROM blobs
       WHERE blob_id = ANY($1::text[]) OR blob_id IN (SELECT base_id FROM blobs WHERE blob_id = ANY($1::text[]))
       ORDER BY blob_id FOR NO KEY UPDATE`;
    let rows = (await c.query<{ blob_id: string; base_id: string | null }>(lockSql, [ids])).rows;
    const locked = new Set(rows.map((r) => r.blob_id));
    const missing = [...this.composites.keys()].filter((id) => !locked.has(id));
    if (missing.length > 0) {
      // First reference to these composites: create their rows (a concurrent creator may win; both are the same).
      const parts = missing.map((id) => this.composites.get(id)!);
      await c.query(
        `INSERT INTO blobs (blob_id, size, base_id, prefix, base_from)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[], $5::bigint[]) ON CONFLICT (blob_id) DO NOTHING`,
        [missing, parts.map((p) => p.size), parts.map((p) => p.baseId), parts.map((p) => p.prefix), parts.map((p) => p.baseFrom)],
      );
      rows = (await c.query<{ blob_id: string; base_id: string | null }>(lockSql, [ids])).rows;
    }
    const present = new Map(rows.map((r) => [r.blob_id, r.base_id]));
    const deltas = new Map<string, RefChange>();
    const bump = (id: string, n: number, analysis: Buffer | null, headerFacts: string | null): void => {
      const d = deltas.get(id);
      if (d) {
        d.n += n;
        d.analysis ??= analysis;
        d.headerFacts ??= headerFacts;
      } else {
        deltas.set(id, { n, analysis, headerFacts });
      }
    };
    for (const [id, change] of this.changes) {
      if (!present.has(id)) throw new StoreError('CANNOT', `message blob ${id} is gone; retry`);
      bump(id, change.n, change.analysis, change.headerFacts);
      const base = present.get(id);
      if (base) bump(base, change.n, null, null);
    }
    for (const id of deltas.keys()) {
      if (!present.has(id)) throw new StoreError('CANNOT', `base blob ${id} is gone; retry`);
    }
    const changed = [...deltas].filter(([, d]) => d.n !== 0 || d.analysis !== null);
    await c.query(
      `UPDATE blobs b SET refcount = b.refcount + r.n,
         staged_until = CASE WHEN r.n > 0 THEN NULL ELSE b.staged_until END,
         analysis = CASE WHEN b.base_id IS NULL THEN coalesce(b.analysis, r.analysis) END,
         header_facts = CASE WHEN b.base_id IS NULL THEN coalesce(b.header_facts, r.header_facts) ELSE b.header_facts END
       FROM unnest($1::text[], $2::bigint[], $3::bytea[], $4::text[]) AS r (blob_id, n, analysis, header_facts)
       WHERE b.blob_id = r.blob_id`,
      [changed.map(([id]) => id), changed.map(([, d]) => d.n), changed.map(([, d]) => d.analysis), changed.map(([, d]) => d.headerFacts)],
    );
  }
}
