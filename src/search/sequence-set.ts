/**
 * Sequence sets (RFC 9051 §9 `sequence-set`, §6.4.9 on `*` in UID ranges).
 * A parsed set keeps `*` symbolic; it is resolved against the mailbox when the
 * command runs, because `*` means "the largest number in use" at that moment.
 */

/** `*` before resolution. */
export const STAR = -1;

/** One range as written: either bound may be STAR; lo may exceed hi ("in either order"). */
export type RawRange = readonly [number, number];

/** A parsed sequence set, or `$` (RFC 5182 saved search result). */
export type SequenceSet = { kind: 'ranges'; ranges: RawRange[] } | { kind: 'saved' };

/** Normalized ranges: ascending, non-overlapping, non-adjacent, inclusive. */
export type Ranges = Array<[number, number]>;

/** Largest number a sequence set may name (RFC 9051 nz-number is < 2^32). */
export const MAX_NZ = 0xffffffff;
/** Bound on ranges in one set: input-driven lists are limited. */
export const MAX_RANGES = 100_000;

/** Parses `sequence-set` text; returns null when it is not one. */
export function parseSequenceSet(text: string): SequenceSet | null {
  if (text === '$') return { kind: 'saved' };
  if (text.length === 0) return null;
  const parts = text.split(',');
  if (parts.length > MAX_RANGES) return null;
  const ranges: RawRange[] = [];
  for (const part of parts) {
    const colon = part.indexOf(':');
    const a = parseBound(colon < 0 ? part : part.slice(0, colon));
    const b = colon < 0 ? a : parseBound(part.slice(colon + 1));
    if (a === null || b === null) return null;
    ranges.push([a, b]);
  }
  return { kind: 'ranges', ranges };
}

function parseBound(s: string): number | null {
  if (s === '*') return STAR;
  if (!/^[1-9][0-9]{0,9}$/.test(s)) return null;
  const n = Number(s);
  return n <= MAX_NZ ? n : null;
}

/**
 * Resolves `*` to `star` and normalizes. With star = 0 (empty mailbox) a
 * range naming `*` resolves to nothing.
 */
export function resolveRanges(ranges: readonly RawRange[], star: number): Ranges {
  const out: Array<[number, number]> = [];
  for (const [a0, b0] of ranges) {
    const a = a0 === STAR ? star : a0;
    const b = b0 === STAR ? star : b0;
    if (a === 0 || b === 0) continue;
    out.push(a <= b ? [a, b] : [b, a]);
  }
  return normalize(out);
}

/** Sorts and merges overlapping or adjacent ranges. */
export function normalize(ranges: Array<[number, number]>): Ranges {
  ranges.sort((x, y) => x[0] - y[0]);
  const out: Ranges = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** Formats ascending numbers as a compact sequence set ("1:3,7"), e.g. for COPYUID. */
export function formatNumbers(nums: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < nums.length) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    parts.push(j === i ? `${nums[i]}` : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Whether n lies in normalized ranges (binary search). */
export function inRanges(ranges: Ranges, n: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (n < r[0]) hi = mid - 1;
    else if (n > r[1]) lo = mid + 1;
    else return true;
  }
  return false;
}
