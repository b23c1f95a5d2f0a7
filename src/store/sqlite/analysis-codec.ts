/**
 * MessageAnalysis as stored in the blobs table: JSON, with every byte buffer
 * (pre-encoded ENVELOPE, BODYSTRUCTURE, …) as {"$b64": "..."} so the bytes
 * round-trip exactly (plain JSON.stringify would turn a Buffer into a number array).
 */
import type { MessageAnalysis } from '../../mime/types.js';

interface EncodedBytes {
  $b64: string;
}

function isEncodedBytes(value: unknown): value is EncodedBytes {
  return typeof value === 'object' && value !== null && typeof (value as Partial<EncodedBytes>).$b64 === 'string' && Object.keys(value).length === 1;
}

/** Serializes an analysis for storage. */
export function encodeAnalysis(analysis: MessageAnalysis): string {
  return JSON.stringify(analysis, function (this: Record<string, unknown>, key: string, value: unknown) {
    // `this[key]` is the value before Buffer#toJSON ran.
    const raw = this[key];
    return raw instanceof Uint8Array ? { $b64: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') } : value;
  });
}

/** Restores an analysis stored by encodeAnalysis. */
export function decodeAnalysis(text: string): MessageAnalysis {
  return JSON.parse(text, (_key, value: unknown) => (isEncodedBytes(value) ? Buffer.from(value.$b64, 'base64') : value)) as MessageAnalysis;
}
