/**
 * Composite blobs (per-recipient prefix + shared base), the part every blob
 * store computes alike: the id is the SHA-256 of the composed bytes, and a
 * composite of a composite is flattened so bases are always plain blobs.
 */
import { createHash } from 'node:crypto';
import type { StagedBlob } from '../types.js';
import { StoreError } from '../types.js';

/** Describes prefix + base as a composite StagedBlob, reading the base once to hash it. */
export async function composeBlob(prefix: Buffer, base: StagedBlob, readBase: (blobId: string) => AsyncIterable<Buffer>): Promise<StagedBlob> {
  const plain = base.composite?.base ?? base;
  const whole = base.composite ? Buffer.concat([prefix, base.composite.prefix]) : prefix;
  if (whole.length === 0) return plain;
  const hash = createHash('sha256').update(whole);
  let size = 0;
  for await (const chunk of readBase(plain.blobId)) {
    hash.update(chunk);
    size += chunk.length;
  }
  if (size !== plain.size) throw new StoreError('CANNOT', `blob ${plain.blobId} has ${size} bytes, expected ${plain.size}`);
  return { blobId: hash.digest('hex'), size: whole.length + size, composite: { prefix: whole, base: plain } };
}
