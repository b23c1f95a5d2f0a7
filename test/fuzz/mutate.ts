/**
 * Byte-level mutations of generated inputs (truncation, bit and byte flips,
 * splices, inserted protocol tokens, repeats) and purely random inputs.
 */
import type { Rng } from './rng.js';

/** Protocol-significant byte strings worth inserting. */
const TOKENS = [
  '\r\n',
  '\n',
  '\r',
  '\0',
  ' ',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  '"',
  '\\',
  '*',
  '%',
  '{0}\r\n',
  '{1+}\r\n',
  '~{2}\r\n',
  '{4294967296}\r\n',
  '.\r\n',
  '\r\n.\r\n',
  '+',
  '\xff',
  '\xc3',
  'NIL',
  '<',
  '>',
  ':',
];

/** A random input: raw bytes, printable noise or CRLF-broken lines. */
export function randomInput(r: Rng): Buffer {
  const n = r.size(2000);
  return r.weighted<() => Buffer>([
    [2, () => r.bytes(n)],
    [2, () => Buffer.from(Array.from({ length: n }, () => (r.chance(0.05) ? '\r\n' : String.fromCharCode(r.int(0x20, 0x7e)))).join(''), 'latin1')],
    [1, () => Buffer.from(Array.from({ length: r.int(1, 20) }, () => TOKENS[r.int(0, TOKENS.length - 1)]).join(''), 'latin1')],
  ])();
}

/** One to four mutations of `input`; `donor` supplies splices. */
export function mutate(r: Rng, input: Buffer, donor: Buffer): Buffer {
  let b: Buffer = Buffer.from(input);
  for (let i = r.int(1, 4); i > 0; i--) b = mutateOnce(r, b, donor);
  return b;
}

function mutateOnce(r: Rng, b: Buffer, donor: Buffer): Buffer {
  const at = (): number => r.int(0, b.length);
  return r.weighted<() => Buffer>([
    [3, () => b.subarray(0, at())],
    [3, () => flipByte(r, b)],
    [2, () => flipBit(r, b)],
    [3, () => splice(b, at(), donor.subarray(r.int(0, donor.length), r.int(0, donor.length)))],
    [3, () => splice(b, at(), Buffer.from(r.pick(TOKENS), 'latin1'))],
    [
      1,
      () => {
        const s = at();
        const e = Math.min(b.length, s + r.int(1, 64));
        return Buffer.concat([b.subarray(0, e), Buffer.concat(Array.from({ length: r.int(1, 50) }, () => b.subarray(s, e))), b.subarray(e)]);
      },
    ],
    [
      2,
      () => {
        const s = at();
        return Buffer.concat([b.subarray(0, s), b.subarray(Math.min(b.length, s + r.int(1, 16)))]);
      },
    ],
  ])();
}

function flipByte(r: Rng, b: Buffer): Buffer {
  if (b.length === 0) return b;
  const c = Buffer.from(b);
  c[r.int(0, c.length - 1)] = r.u32() & 0xff;
  return c;
}

function flipBit(r: Rng, b: Buffer): Buffer {
  if (b.length === 0) return b;
  const c = Buffer.from(b);
  const i = r.int(0, c.length - 1);
  c[i] = c[i]! ^ (1 << r.int(0, 7));
  return c;
}

function splice(b: Buffer, at: number, piece: Buffer): Buffer {
  return Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]);
}
