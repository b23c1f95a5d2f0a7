/**
 * SASLprep (RFC 4013) against the RFC's examples, the bidi rules of RFC 3454
 * §6, a sample of every prohibited table, stored strings against queries
 * (§7), and properties: idempotent on its output, ASCII printable unchanged.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { saslprep } from '../src/auth/saslprep.js';

const both = (input: string) => [saslprep(input, 'stored'), saslprep(input, 'query')];

describe('SASLprep (RFC 4013)', () => {
  it('RFC 4013 §3 examples, every row', () => {
    const rows: [string, string | null, string][] = [
      ['I\u00ADX', 'IX', 'SOFT HYPHEN mapped to nothing'],
      ['user', 'user', 'no transformation'],
      ['USER', 'USER', 'case preserved'],
      ['\u00AA', 'a', 'NFKC'],
      ['\u2168', 'IX', 'NFKC, matches #1'],
      ['\u0007', null, 'prohibited character'],
      ['\u0627\u0031', null, 'bidirectional check'],
    ];
    for (const [input, output, why] of rows) {
      for (const r of both(input)) assert.equal(r.refused === null ? r.prepared : null, output, why);
    }
    assert.equal(saslprep('\u0007', 'query').refused, 'prohibited');
    assert.equal(saslprep('\u0627\u0031', 'query').refused, 'bidi');
  });

  it('maps non-ASCII spaces (C.1.2) to SPACE and B.1 to nothing, U+200B (in both) to SPACE', () => {
    assert.equal(saslprep('a\u00A0b\u3000c\u2003d', 'stored').prepared, 'a b c d');
    assert.equal(saslprep('a\u200Bb', 'stored').prepared, 'a b');
    assert.equal(saslprep('p\u034F\u180Bw\uFE0F\uFEFF\u200D\u2060d', 'stored').prepared, 'pwd');
  });

  it('bidi (RFC 3454 §6): RandALCat strings start and end with RandALCat and hold no LCat', () => {
    const ok = ['\u05E9\u05DC\u05D5\u05DD', '\u0627\u0031\u0628', '\u05D0 1 \u05D1', '123', 'abc', '\u0661\u0662'];
    for (const s of ok) for (const r of both(s)) assert.equal(r.refused, null, JSON.stringify(s));
    const bad = ['\u05E9\u05DC\u05D5\u05DD123', '1\u05D0', '\u05D0a\u05D1', 'a\u05D0', '\u0627\u0031'];
    for (const s of bad) for (const r of both(s)) assert.equal(r.refused, 'bidi', JSON.stringify(s));
    // C.8 (display changes, like LRM) is prohibited before the bidi rules are asked.
    assert.equal(saslprep('\u200Fabc', 'query').refused, 'prohibited');
  });

  it('refuses a sample of every prohibited table (RFC 4013 §2.3), stored and as a query', () => {
    const samples: Record<string, number[]> = {
      'C.2.1': [0x0, 0x9, 0x1f, 0x7f],
      'C.2.2': [0x80, 0x9f, 0x6dd, 0x70f, 0x180e, 0x2028, 0x2029, 0x2061, 0x206a, 0xfff9, 0x1d173],
      'C.3': [0xe000, 0xf8ff, 0xf0000, 0x10fffd],
      'C.4': [0xfdd0, 0xfdef, 0xfffe, 0xffff, 0x1fffe, 0x10ffff],
      'C.5': [0xd800, 0xdfff],
      'C.6': [0xfffa, 0xfffd],
      'C.7': [0x2ff0, 0x2ffb],
      'C.8': [0x200e, 0x202a, 0x202e, 0x206f], // not U+0340/U+0341: NFKC turns them into U+0300/U+0301 first
      'C.9': [0xe0001, 0xe0020, 0xe007f],
    };
    for (const [table, cps] of Object.entries(samples)) {
      for (const cp of cps) {
        // A lone surrogate as one UTF-16 unit; everything else as the character.
        const ch = cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
        for (const r of both(`pw${ch}x`)) assert.equal(r.refused, 'prohibited', `${table} U+${cp.toString(16)}`);
      }
    }
  });

  it('unassigned code points (A.1, Unicode 3.2): refused in stored strings, allowed in queries (RFC 3454 §7)', () => {
    // U+0221 (Unicode 4.0), U+1F600 (6.1), U+20B9 INDIAN RUPEE SIGN (6.0), U+E0100 (4.0).
    for (const ch of ['\u0221', '\u{1F600}', '\u20B9', '\u{E0100}']) {
      const s = `pw${ch}`;
      assert.equal(saslprep(s, 'stored').refused, 'unassigned', s);
      assert.deepEqual(saslprep(s, 'query'), { prepared: s, refused: null }, s);
    }
    assert.equal(saslprep('pw\u20AC', 'stored').refused, null); // EURO SIGN, assigned in 3.2
  });

  it('agrees with an independent implementation (Python stringprep, Unicode 3.2 NFKC) on 1,500 recorded strings', () => {
    // test/fixtures/saslprep/reference.json, written by scripts/saslprep-reference.py: [input, stored, query | null], each [prepared | null, refusal | null].
    type Answer = [string | null, string | null];
    const cases = JSON.parse(readFileSync(new URL('../../test/fixtures/saslprep/reference.json', import.meta.url), 'utf8')) as [
      string,
      Answer,
      Answer | null,
    ][];
    assert.equal(cases.length, 1500);
    for (const [input, stored, query] of cases) {
      for (const [mode, want] of [
        ['stored', stored],
        ['query', query],
      ] as const) {
        if (want === null) continue;
        const r = saslprep(input, mode);
        assert.deepEqual([r.refused === null ? r.prepared : null, r.refused], want, `${mode} ${JSON.stringify(input)}`);
      }
    }
  });

  it('is idempotent on its output (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 24 }), (s) => {
        const r = saslprep(s, 'query');
        if (r.refused !== null) return;
        assert.deepEqual(saslprep(r.prepared, 'query'), { prepared: r.prepared, refused: null });
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves ASCII printable strings as they are, stored and as a query (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 64 }), (s) => {
        for (const r of both(s)) assert.deepEqual(r, { prepared: s, refused: null });
      }),
      { numRuns: 1000 },
    );
  });
});
