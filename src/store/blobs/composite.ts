/**
 * Composite blobs (per-recipient prefix + shared base from an offset), the
 * part every blob store computes alike: the id is the SHA-256 of the composed
 * bytes, and a composite of a composite is flattened so bases are always
 * plain blobs.
 */
import { createHash } from 'node:crypto';
import type { StagedBlob } from '../types.js';
import { StoreError } from '../types.js';

/**
 * Describes prefix + base[baseFrom..] as a composite StagedBlob, reading that much of the base once to hash it.
 * `baseBytes`, the bytes of a plain base the caller holds, are hashed instead of reading them back.
 */
export async function composeBlob(
  prefix: Buffer,
  base: StagedBlob,
  readBase: (blobId: string, from: number) => AsyncIterable<Buffer>,
  baseFrom = 0,
  baseBytes?: Buffer,
): Promise<StagedBlob> {
  if (!Number.isSafeInteger(baseFrom) || baseFrom < 0 || baseFrom > base.size) throw new RangeError(`bad composite offset ${baseFrom}`);
  const plain = base.composite?.base ?? base;
  // The base's own prefix is consumed first, then its base's bytes from where they started.
  const inner = base.composite?.prefix ?? Buffer.alloc(0);
  const whole = Buffer.concat([prefix, inner.subarray(Math.min(baseFrom, inner.length))]);
  const from = (base.composite?.baseFrom ?? 0) + Math.max(0, baseFrom - inner.length);
  if (whole.length === 0 && from === 0) return plain;
  const hash = createHash('sha256').update(whole);
  let size = 0;
  // A LMTP message to ten recipients is hashed ten times: from memory, that is no file or database read each.
  const chunks = baseBytes !== undefined && base.composite === undefined ? [baseBytes.subarray(from)] : readBase(plain.blobId, from);
  for await (const chunk of chunks) {
    hash.update(chunk);
    size += chunk.length;
  }
  if (size !== plain.size - from) throw new StoreError('CANNOT', `blob ${plain.blobId} has ${from + size} bytes, expected ${plain.size}`);
  return { blobId: hash.digest('hex'), size: whole.length + size, composite: { prefix: whole, base: plain, baseFrom: from } };
}
