/**
 * Sequence sets (RFC 9051 §9 `sequence-set`): parsing against the grammar,
 * resolution and normalization against a naive expand-to-a-Set model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_NZ, STAR, formatNumbers, inRanges, normalize, parseSequenceSet, resolveRanges, type Ranges } from '../src/search/sequence-set.js';

/** The numbers a set names in a mailbox whose largest number is max: the naive reading of RFC 9051 §9. */
function naive(text: string, max: number): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [a, b = a] = part.split(':').map((x) => (x === '*' ? max : Number(x))) as [number, number?];
    if (a === 0 || b === 0) continue; // "*" in an empty mailbox names nothing
    for (let n = Math.min(a, b); n <= Math.max(a, b); n++) out.add(n);
  }
  return out;
}

const expand = (ranges: Ranges): number[] => ranges.flatMap(([lo, hi]) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i));

/** A number or "*", with numbers often above the mailbox size. */
const boundArb = fc.oneof({ arbitrary: fc.integer({ min: 1, max: 60 }).map(String), weight: 5 }, { arbitrary: fc.constant('*'), weight: 1 });
const partArb = fc.oneof(
  boundArb,
  fc.tuple(boundArb, boundArb).map(([a, b]) => `${a}:${b}`),
);
const setTextArb = fc.array(partArb, { minLength: 1, maxLength: 8 }).map((p) => p.join(','));

test('sequence-set: resolve matches the naive model (star, either order, n:* beyond the end, merging)', () => {
  fc.assert(
    fc.property(setTextArb, fc.integer({ min: 0, max: 50 }), (text, max) => {
      const set = parseSequenceSet(text);
      assert.ok(set && set.kind === 'ranges', text);
      const ranges = resolveRanges(set.ranges, max);
      const want = [...naive(text, max)].sort((a, b) => a - b);
      assert.deepEqual(expand(ranges), want);
      // Normalized: ascending, non-overlapping, non-adjacent.
      for (let i = 0; i < ranges.length; i++) {
        const [lo, hi] = ranges[i]!;
        assert.ok(lo >= 1 && lo <= hi);
        if (i > 0) assert.ok(lo > ranges[i - 1]![1] + 1, `ranges ${JSON.stringify(ranges)} not merged`);
      }
      for (let n = 0; n <= 62; n++) assert.equal(inRanges(ranges, n), want.includes(n), `inRanges ${n}`);
    }),
    { numRuns: 1000 },
  );
});

test('sequence-set: the UID range n:* includes the last UID even when n is beyond it (RFC 9051 §6.4.9)', () => {
  const set = parseSequenceSet('559:*');
  assert.ok(set?.kind === 'ranges');
  assert.deepEqual(set.ranges, [[559, STAR]]);
  assert.deepEqual(resolveRanges(set.ranges, 500), [[500, 559]]);
  assert.ok(inRanges(resolveRanges(set.ranges, 500), 500));
  assert.deepEqual(resolveRanges(set.ranges, 0), [], '"*" names nothing in an empty mailbox');
  const plain = parseSequenceSet('3:1,7');
  assert.ok(plain?.kind === 'ranges');
  assert.deepEqual(
    resolveRanges(plain.ranges, 0),
    [
      [1, 3],
      [7, 7],
    ],
    'ranges without "*" do not depend on the mailbox',
  );
});

test('sequence-set: parse accepts exactly the grammar', () => {
  // RFC 9051 §9: sequence-set = (seq-number / seq-range) ["," sequence-set];
  // seq-range = seq-number ":" seq-number; seq-number = nz-number / "*"; nz-number < 2^32.
  const n = '(?:[1-9][0-9]*|\\*)';
  const grammar = new RegExp(`^(?:${n}(?::${n})?)(?:,${n}(?::${n})?)*$`);
  const textArb = fc.string({ unit: fc.constantFrom(...'0123456789:,*$'.split(''), '4294967295', '4294967296', '99999999999'), maxLength: 14 });
  fc.assert(
    fc.property(textArb, (text) => {
      const inRange = (text.match(/\d+/g) ?? []).every((d) => Number(d) <= MAX_NZ);
      const valid = text === '$' || (grammar.test(text) && inRange);
      const set = parseSequenceSet(text);
      assert.equal(set !== null, valid, JSON.stringify(text));
      if (set?.kind === 'ranges') {
        // The parsed ranges say what the text says.
        const back = set.ranges.map(([a, b]) => [a, b].map((x) => (x === STAR ? '*' : String(x))));
        const parts = text.split(',').map((p) => (p.includes(':') ? p.split(':') : [p, p]));
        assert.deepEqual(back, parts);
      }
    }),
    { numRuns: 5000 },
  );
});

test('sequence-set: invalid forms are rejected', () => {
  for (const text of [
    '',
    '0',
    '01',
    '0:5',
    '5:0',
    '1:',
    ':',
    ':1',
    '1::2',
    '1:2:3',
    '1,',
    ',1',
    '1,,2',
    '4294967296',
    '99999999999',
    '-1',
    ' 1',
    '1 ',
    '$1',
    '$,1',
    '1,$',
    '*:',
    'a',
    '1.5',
    '+1',
  ]) {
    assert.equal(parseSequenceSet(text), null, JSON.stringify(text));
  }
  assert.deepEqual(parseSequenceSet('4294967295'), { kind: 'ranges', ranges: [[MAX_NZ, MAX_NZ]] });
  assert.deepEqual(parseSequenceSet('$'), { kind: 'saved' });
  assert.deepEqual(parseSequenceSet('*'), { kind: 'ranges', ranges: [[STAR, STAR]] });
});

test('sequence-set: formatNumbers is compact and parses back to the same numbers', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: MAX_NZ })), { maxLength: 30 }), (raw) => {
      const nums = [...raw].sort((a, b) => a - b);
      const text = formatNumbers(nums);
      if (nums.length === 0) return assert.equal(text, '');
      const set = parseSequenceSet(text);
      assert.ok(set?.kind === 'ranges', text);
      const ranges = resolveRanges(set.ranges, 1);
      assert.equal(ranges.length, set.ranges.length, `${text} is not compact`);
      for (const [a, b] of set.ranges) assert.ok(a <= b, 'ranges ascend');
      // Disjoint ranges covering every number and exactly as many numbers: the same set.
      for (const n of nums) assert.ok(inRanges(ranges, n));
      assert.equal(
        ranges.reduce((sum, [lo, hi]) => sum + hi - lo + 1, 0),
        nums.length,
      );
    }),
    { numRuns: 1000 },
  );
  assert.equal(formatNumbers([1, 2, 3, 5, 7, 8]), '1:3,5,7:8');
});

test('sequence-set: inRanges agrees with a linear scan', () => {
  const rangesArb = fc
    .array(fc.tuple(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 10 })), { maxLength: 20 })
    .map((rs) => normalize(rs.map(([lo, len]) => [lo, lo + len])));
  fc.assert(
    fc.property(rangesArb, fc.integer({ min: 0, max: 220 }), (ranges, n) => {
      assert.equal(
        inRanges(ranges, n),
        ranges.some(([lo, hi]) => lo <= n && n <= hi),
      );
    }),
    { numRuns: 2000 },
  );
  assert.equal(inRanges([], 1), false);
});
