/**
 * Encoder → framer → reader round trips: whatever the encoder emits for a value
 * (atom, quoted string or literal) reads back as exactly the same bytes, and
 * the encoder's choices follow RFC 9051 §4.3 for the session's mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeAString, encodeList, encodeNString, encodeString, isAtomChar, joinSp, literal, withoutNul, type EncodeMode } from '../src/syntax/imap-string.js';
import { ArgReader } from '../src/imap/wire/reader.js';
import { frameOne } from './helpers/wire-harness.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const MODES: EncodeMode[] = [{ utf8: false }, { utf8: true }];
const isUtf8 = (buf: Buffer): boolean => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
    return true;
  } catch {
    return false;
  }
};

/** Values of 0–2000 octets, anything but NUL, weighted towards each encoding the encoder can pick. */
const valueArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ min: 1, max: 255, maxLength: 2000, size: 'max' }).map((u) => Buffer.from(u)),
  fc.uint8Array({ min: 1, max: 255, maxLength: 40 }).map((u) => Buffer.from(u)),
  fc.string({ unit: 'grapheme', maxLength: 60 }).map((s) => Buffer.from(s.replaceAll('\0', ''), 'utf8')),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }).map(b),
  fc.string({ unit: fc.constantFrom(...'aZ09]}~!.-/"\\{%*()+ \r\n'.split('')), maxLength: 12 }).map(b),
  fc.constantFrom('NIL', 'nil', 'Nil', '', 'INBOX', ']', '{5}', '"', '\\', 'a\r\nb').map(b),
  fc.integer({ min: 1020, max: 1030 }).map((n) => Buffer.alloc(n, 'q')),
);

test('encode → read: astring, string and nstring read back byte-identical in both modes', () => {
  fc.assert(
    fc.property(valueArb, valueArb, valueArb, fc.constantFrom(...MODES), fc.boolean(), (v1, v2, v3, mode, nil) => {
      const wire = joinSp(['a', 'X', encodeAString(v1, mode), encodeString(v2, mode), encodeNString(nil ? null : v3, mode)]);
      const r = new ArgReader(frameOne(Buffer.concat([wire, b('\r\n')])));
      assert.equal(r.tag(), 'a');
      r.sp();
      assert.equal(r.atom(), 'X');
      r.sp();
      assert.ok(r.astring().bytes.equals(v1), 'astring');
      r.sp();
      assert.ok(r.string().bytes.equals(v2), 'string');
      r.sp();
      const n = r.nstring();
      if (nil) assert.equal(n, null);
      else assert.ok(n?.bytes.equals(v3), 'nstring');
      r.end();
    }),
    { numRuns: 1500 },
  );
});

test('encode: quoted strings never hold CR, LF or NUL; 8-bit is quoted only in UTF-8 mode and only when valid', () => {
  fc.assert(
    fc.property(valueArb, fc.constantFrom(...MODES), (v, mode) => {
      for (const out of [encodeString(v, mode), encodeAString(v, mode), encodeNString(v, mode)]) {
        if (out[0] === 0x7b) {
          assert.ok(out.equals(literal(v)), 'a literal holds the value as is');
        } else if (out[0] === 0x22) {
          const inner = out.subarray(1, -1);
          assert.equal(out.at(-1), 0x22);
          for (const c of inner) assert.ok(c !== 0x0d && c !== 0x0a && c !== 0x00, 'CR, LF or NUL in a quoted string');
          const eightBit = inner.some((c) => c >= 0x80);
          if (eightBit) assert.ok(mode.utf8 && isUtf8(v), '8-bit quoted outside UTF-8 mode, or not UTF-8');
          // Every " and \ inside is escaped.
          assert.ok(!/(^|[^\\])(\\\\)*"/.test(inner.toString('latin1')), 'unescaped quote');
        } else {
          assert.ok(out === v || out.equals(v), 'an atom is the value itself');
          assert.ok(v.length > 0 && v.every((c) => isAtomChar(c) || c === 0x5d), 'atom of ASTRING-CHARs');
          assert.notEqual(v.toString('latin1').toUpperCase(), 'NIL', 'NIL in any case must not be a bare astring');
        }
      }
      // "Quoted when possible": short 7-bit text without CR/LF/NUL is never sent as a literal.
      const quotable = v.length <= 1024 && v.every((c) => c !== 0x0d && c !== 0x0a && (c < 0x80 || mode.utf8)) && (mode.utf8 ? isUtf8(v) : true);
      assert.equal(encodeString(v, mode)[0] === 0x22, quotable);
    }),
    { numRuns: 3000 },
  );
});

test('encode: examples', () => {
  assert.deepEqual(encodeAString('INBOX'), b('INBOX'));
  assert.deepEqual(encodeAString('a]b'), b('a]b'));
  assert.deepEqual(encodeAString('nil'), b('"nil"'));
  assert.deepEqual(encodeAString(''), b('""'));
  assert.deepEqual(encodeAString('a b'), b('"a b"'));
  assert.deepEqual(encodeString('a"b\\c'), b('"a\\"b\\\\c"'));
  assert.deepEqual(encodeString('x\r\ny'), b('{4}\r\nx\r\ny'));
  assert.deepEqual(encodeString('Grüße'), Buffer.concat([b('{7}\r\n'), Buffer.from('Grüße')]));
  assert.deepEqual(encodeString('Grüße', { utf8: true }), Buffer.concat([b('"'), Buffer.from('Grüße'), b('"')]));
  assert.deepEqual(encodeString(Buffer.from([0xff]), { utf8: true }), Buffer.from([0x7b, 0x31, 0x7d, 0x0d, 0x0a, 0xff]));
  assert.deepEqual(encodeNString(null), b('NIL'));
  assert.deepEqual(encodeNString('NIL'), b('"NIL"'));
  assert.deepEqual(literal(b('ab'), true), b('~{2}\r\nab'));
  const nul = b('a\0b\0');
  assert.deepEqual(withoutNul(nul), b('a\x80b\x80'));
  assert.deepEqual(nul, b('a\0b\0'), 'withoutNul copies, never changes its input');
  const clean = b('ab');
  assert.equal(withoutNul(clean), clean, 'no NUL: the same buffer, no copy');
  assert.deepEqual(encodeList([b('a'), b('"b c"')]), b('(a "b c")'));
  assert.deepEqual(encodeList([]), b('()'));
});
