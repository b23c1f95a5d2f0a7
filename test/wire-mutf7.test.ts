/**
 * Modified UTF-7 (RFC 3501 §5.1.3): round trips, the RFC's vectors, and
 * rejection of every non-canonical or malformed form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMutf7, encodeMutf7 } from '../src/mail/mutf7.js';

/** Unicode text rich in the characters that matter here: "&", "-", ASCII, BMP and astral. */
const nameArb = fc.string({
  unit: fc.oneof(
    fc.constantFrom('&', '-', '&-', '/', '.', ' ', '~', 'a', 'Z', '+', ','),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.constantFrom('台', '北', 'ü', '\u0000', '\u007f', '\u0085', '\uffff', '😀', '\u{10ffff}', '\ud7ff', '\ue000'),
  ),
  maxLength: 30,
});

test('mutf7: decode(encode(s)) = s for any Unicode string, and the encoding is printable ASCII', () => {
  fc.assert(
    fc.property(nameArb, (s) => {
      const e = encodeMutf7(s);
      assert.match(e, /^[\x20-\x7e]*$/);
      assert.equal(decodeMutf7(e), s);
    }),
    { numRuns: 2000 },
  );
});

test('mutf7: printable ASCII other than "&" represents itself', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }), (s) => {
      assert.equal(encodeMutf7(s), s.replaceAll('&', '&-'));
    }),
  );
});

test('mutf7: known vectors (RFC 3501 §5.1.3 and others)', () => {
  const vectors: Array<[string, string]> = [
    ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
    ['&', '&-'],
    ['&&', '&-&-'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['Tom & Jerry', 'Tom &- Jerry'],
    ['😀', '&2D3eAA-'],
    ['ü&', '&APw-&-'],
    ['\u0000\t', '&AAAACQ-'],
    ['', ''],
  ];
  for (const [utf8, wire] of vectors) {
    assert.equal(encodeMutf7(utf8), wire, `encode ${utf8}`);
    assert.equal(decodeMutf7(wire), utf8, `decode ${wire}`);
  }
});

test('mutf7: invalid forms are rejected', () => {
  const eee = encodeMutf7('ééé'); // &AOkA6QDp- : 8 base64 chars, no padding bits
  const invalid = [
    '&', // unterminated
    'abc&U,BTFw', // unterminated
    '&U,B*Fw-', // not modified base64
    '&U/BTFw-', // "/" is plain base64; modified base64 uses ","
    '&U,BTFw=-', // no padding
    '&AGE-', // "a" must represent itself
    '&ACY-', // "&" must be "&-"
    '&AC0-', // "-" must represent itself
    '&AG-', // odd byte count
    '&AOkA-', // odd byte count
    '&A-', // a lone base64 char: no byte at all
    eee.replace('-', 'A-'), // a stray character after whole code units
    '&AOl-', // non-zero padding bits (canonical: &AOk-)
    '&AOk-&AOk-', // superfluous shift: null shift "-&" (RFC 3501 §5.1.3)
    '&2D0-', // lone high surrogate
    '&3gA-', // lone low surrogate
    '&2D0-&3gA-', // a surrogate pair split over two shifts
    'a\tb', // control character sent raw
    'Entwürfe', // 8-bit sent raw
    'x\x7f',
  ];
  assert.equal(decodeMutf7(eee), 'ééé');
  for (const s of invalid) assert.equal(decodeMutf7(s), null, JSON.stringify(s));
});

test('mutf7: every accepted name has exactly one encoding', () => {
  // RFC 3501 §5.1.3: the server must preserve the exact form of a name; decoding
  // to UTF-8 keeps that promise only if the encoding is unique.
  const wireArb = fc.string({
    unit: fc.constantFrom(...'&-&-AAGEOkAPwU,BTFwZeVnLIqe2D3e+,/a=.'.split('')),
    maxLength: 16,
  });
  fc.assert(
    fc.property(wireArb, (w) => {
      const d = decodeMutf7(w);
      if (d !== null) assert.equal(encodeMutf7(d), w);
    }),
    { numRuns: 5000 },
  );
});
