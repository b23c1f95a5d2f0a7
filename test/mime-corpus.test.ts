/**
 * Robustness over every fixture message (the 145 real-world corpus messages
 * and the hand-made ones): analysis never throws, part offsets are within
 * bounds and properly nested, and feeding the bytes in chunks split at any
 * points gives exactly the same result as one write (fast-check).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { MessageAnalyzer, analyzeMessage } from '../src/mime/analyze.js';
import type { MessageAnalysis, PartIndex } from '../src/mime/types.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures/mime');
const MESSAGE = /\.(eml|txt|msg|ntx)$/;

function listMessages(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listMessages(p));
    else if (MESSAGE.test(e.name)) out.push(p);
  }
  return out.sort();
}

const files = listMessages(FIXTURES);
const corpus = files.filter((f) => f.includes(`${path.sep}corpus${path.sep}`));
const messages = files.map((f) => ({ name: path.relative(FIXTURES, f), bytes: fs.readFileSync(f) }));

/** Checks offsets of a part and its subtree; returns the number of parts. */
function checkPart(p: PartIndex, lo: number, hi: number, where: string): number {
  assert.ok(lo <= p.hs && p.hs <= p.bs && p.bs <= p.be && p.be <= hi, `${where}: ${p.hs}/${p.bs}/${p.be} not within [${lo}, ${hi}]`);
  assert.match(p.type, /^[^A-Z]*$/, `${where}: type is lower-case`);
  assert.match(p.encoding, /^[^A-Z]*$/, `${where}: encoding is lower-case`);
  let count = 1;
  const kids = p.parts ?? [];
  if (p.type === 'message' && (p.subtype === 'rfc822' || p.subtype === 'global')) {
    assert.equal(kids.length, 1, `${where}: a message part holds exactly the encapsulated message`);
    assert.equal(kids[0]?.hs, p.bs, `${where}: the encapsulated message starts at the part body`);
  } else if (p.type !== 'multipart') {
    assert.equal(p.parts, undefined, `${where}: a leaf has no parts`);
  }
  let prevEnd = p.bs;
  kids.forEach((c, i) => {
    assert.ok(c.hs >= prevEnd, `${where}.${i + 1} starts after its previous sibling`);
    count += checkPart(c, p.bs, p.be, `${where}.${i + 1}`);
    prevEnd = c.be;
  });
  return count;
}

function analyzeInChunks(bytes: Buffer, cuts: readonly number[]): MessageAnalysis {
  const a = new MessageAnalyzer();
  let pos = 0;
  for (const cut of [...cuts].sort((x, y) => x - y)) {
    a.write(bytes.subarray(pos, cut));
    pos = cut;
  }
  a.write(bytes.subarray(pos));
  return a.end();
}

test('the whole real-world corpus is present', () => {
  assert.equal(corpus.length, 145);
});

test('every message analyses with consistent offsets', () => {
  for (const { name, bytes } of messages) {
    const a = analyzeMessage(bytes);
    assert.equal(a.root.hs, 0, name);
    assert.equal(a.root.be, bytes.length, `${name}: the message body ends at the end`);
    checkPart(a.root, 0, bytes.length, name);
    assert.ok(a.envelope.length > 0 && a.body.length > 0 && a.bodyStructure.length >= a.body.length, name);
  }
});

test('one-byte and fixed-size chunks give the same analysis as one write', () => {
  for (const { name, bytes } of messages) {
    const whole = analyzeMessage(bytes);
    const size = bytes.length < 20_000 ? 1 : 997;
    const cuts: number[] = [];
    for (let i = size; i < bytes.length; i += size) cuts.push(i);
    assert.deepEqual(analyzeInChunks(bytes, cuts), whole, name);
  }
});

test('chunks split at random points give the same analysis as one write', () => {
  const wholes = messages.map((m) => analyzeMessage(m.bytes));
  fc.assert(
    fc.property(
      fc
        .integer({ min: 0, max: messages.length - 1 })
        .chain((i) => fc.tuple(fc.constant(i), fc.array(fc.integer({ min: 0, max: (messages[i] as { bytes: Buffer }).bytes.length }), { maxLength: 40 }))),
      ([i, cuts]) => {
        const m = messages[i] as { name: string; bytes: Buffer };
        assert.deepEqual(analyzeInChunks(m.bytes, cuts), wholes[i], m.name);
      },
    ),
    { numRuns: 400 },
  );
});
