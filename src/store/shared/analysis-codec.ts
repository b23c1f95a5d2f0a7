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

/** The analysis fields that hold bytes; everything else is plain JSON. */
const BYTE_FIELDS = ['envelope', 'bodyStructure', 'body'] as const;

/**
 * Restores an analysis stored by encodeAnalysis. Only the known byte fields are
 * converted: a JSON.parse reviver would visit every header and cost FETCH
 * ENVELOPE/BODYSTRUCTURE several times more.
 */
export function decodeAnalysis(text: string): MessageAnalysis {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  for (const field of BYTE_FIELDS) {
    const value = parsed[field];
    if (isEncodedBytes(value)) parsed[field] = Buffer.from(value.$b64, 'base64');
  }
  return parsed as unknown as MessageAnalysis;
}
