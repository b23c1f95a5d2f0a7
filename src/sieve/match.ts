/**
 * Comparators (RFC 4790 §9: i;octet, i;ascii-casemap, i;ascii-numeric) and
 * match types (RFC 5228 §2.7.1 :is :contains :matches, RFC 5231 :value
 * :count, draft-ietf-sieve-regex :regex), with the match values that
 * RFC 5229 §3.2 hands to ${0}…${9}. Wildcard matching is iterative (the
 * classic star-backtracking walk, O(pattern × subject)), never recursive.
 */
import type { SieveLimits } from './limits.js';
import { compileRegex } from './regex.js';

/** A comparator name (RFC 5228 §2.7.3). */
export type ComparatorName = 'i;octet' | 'i;ascii-casemap' | 'i;ascii-numeric';

/** How a test compares: comparator, match type and its relation. */
export interface Matcher {
  comparator: ComparatorName;
  type: 'is' | 'contains' | 'matches' | 'regex' | 'value' | 'count';
  relation: string;
}

// i;ascii-casemap folds ASCII letters only; pure-ASCII text takes the fast built-in path
const asciiLower = (s: string): string => (/^[\x00-\x7f]*$/.test(s) ? s.toLowerCase() : s.replace(/[A-Z]/g, (c) => c.toLowerCase()));

// one-entry memo: a test compares the same (often long) value with every key, and several rules test the same body
let memoIn = '';
let memoOut = '';
const LONG = 256;

/** The comparator's view of a string for equality and substrings. */
function canon(c: ComparatorName, s: string): string {
  if (c !== 'i;ascii-casemap') return s;
  if (s.length < LONG) return asciiLower(s);
  if (s !== memoIn) {
    memoIn = s;
    memoOut = asciiLower(s);
  }
  return memoOut;
}

// RFC 4790 §9.1: the leading digits as a number; no leading digit is "positive infinity"
function numeric(s: string): bigint | null {
  const m = /^[0-9]+/.exec(s);
  return m ? BigInt(m[0]) : null;
}

/** Orders two values under the comparator (RFC 5231 §4: the comparator's ordering). */
export function compareValues(c: ComparatorName, a: string, b: string): number {
  if (c === 'i;ascii-numeric') {
    const x = numeric(a);
    const y = numeric(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = canon(c, a);
  const y = canon(c, b);
  // i;octet orders by octets: compare the UTF-8 bytes
  return Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8'));
}

/** Applies a relational operator (RFC 5231 §4) to a comparison result. */
export function relationHolds(relation: string, cmp: number): boolean {
  switch (relation) {
    case 'gt':
      return cmp > 0;
    case 'ge':
      return cmp >= 0;
    case 'lt':
      return cmp < 0;
    case 'le':
      return cmp <= 0;
    case 'eq':
      return cmp === 0;
    default:
      return cmp !== 0;
  }
}

type Tok = { kind: 'lit'; c: string } | { kind: '*' } | { kind: '?' };

/** Tokenized patterns kept at most: a script's constant keys are tokenized once per process, not once per message. */
const TOKENS_CACHE_SIZE = 1000;
const tokenCache = new Map<string, readonly Tok[]>();

/** The pattern as literal characters (folded as the comparator folds the subject), '*' and '?'. */
function wildcardTokens(comparator: ComparatorName, pattern: string): readonly Tok[] {
  const key = `${comparator}\0${pattern}`;
  let toks = tokenCache.get(key);
  if (toks !== undefined) return toks;
  // folding touches ASCII letters only, never '\\', '*' or '?': fold first, then split
  const folded = canon(comparator, pattern);
  const out: Tok[] = [];
  for (let i = 0; i < folded.length; i++) {
    const c = folded[i] as string;
    if (c === '\\' && i + 1 < folded.length) out.push({ kind: 'lit', c: folded[++i] as string });
    else if (c === '*') out.push({ kind: '*' });
    else if (c === '?') out.push({ kind: '?' });
    else out.push({ kind: 'lit', c });
  }
  toks = out;
  if (tokenCache.size >= TOKENS_CACHE_SIZE) tokenCache.delete(tokenCache.keys().next().value as string);
  tokenCache.set(key, toks);
  return toks;
}

/**
 * :matches with * and ? (RFC 5228 §2.7.1); "\" escapes the next character.
 * Returns the wildcard values (RFC 5229 §3.2: each * as short as possible from the left) or null.
 */
export function wildcardMatch(comparator: ComparatorName, pattern: string, subject: string): string[] | null {
  const toks = wildcardTokens(comparator, pattern);
  const chars = [...subject];
  // canon folds ASCII letters only, so folding the whole subject keeps it aligned with chars
  const folded = comparator === 'i;ascii-casemap' ? [...canon(comparator, subject)] : chars;
  // spans[k] = [start, end) in chars of the k-th wildcard
  const spans: Array<[number, number]> = [];
  let p = 0;
  let s = 0;
  let starTok = -1;
  let starSpan = -1;
  let starAt = 0;
  while (s < chars.length) {
    const t = toks[p];
    if (t !== undefined && t.kind === '?') {
      spans.push([s, s + 1]);
      p++;
      s++;
    } else if (t !== undefined && t.kind === 'lit' && t.c === folded[s]) {
      p++;
      s++;
    } else if (t !== undefined && t.kind === '*') {
      starTok = p;
      starSpan = spans.length;
      starAt = s;
      spans.push([s, s]);
      p++;
    } else if (starTok >= 0) {
      // extend the last star by one character and retry what follows it
      spans.length = starSpan + 1;
      starAt++;
      (spans[starSpan] as [number, number])[1] = starAt;
      p = starTok + 1;
      s = starAt;
    } else return null;
  }
  while (toks[p]?.kind === '*') {
    spans.push([s, s]);
    p++;
  }
  if (p < toks.length) return null;
  // a star only grows while later tokens fail; the last star takes the rest
  return spans.map(([a, b]) => chars.slice(a, b).join(''));
}

/** The outcome of matching one value against one key. */
export interface MatchHit {
  /** ${0} and the wildcard or group values, for :matches and :regex. */
  groups?: string[];
}

/** Matches one value against one key; null when it does not match. Regex keys compile on first use (regex.ts keeps them). */
export function matchOne(m: Matcher, value: string, key: string, limits: SieveLimits): MatchHit | null {
  switch (m.type) {
    case 'is': {
      // equal strings are equal octets: no UTF-8 encoding needed unless the comparator orders numbers
      const same = m.comparator === 'i;ascii-numeric' ? compareValues(m.comparator, value, key) === 0 : canon(m.comparator, value) === canon(m.comparator, key);
      return same ? {} : null;
    }
    case 'contains':
      return canon(m.comparator, value).includes(canon(m.comparator, key)) ? {} : null;
    case 'matches': {
      const subject = value.length > limits.maxMatchSubject ? value.slice(0, limits.maxMatchSubject) : value;
      const groups = wildcardMatch(m.comparator, key, subject);
      return groups === null ? null : { groups: [subject, ...groups] };
    }
    case 'regex': {
      const re = compileRegex(key, m.comparator === 'i;octet', limits);
      if (typeof re === 'string') throw new SieveRuntimeError(`invalid regex "${key}": ${re}`);
      const subject = value.length > limits.maxMatchSubject ? value.slice(0, limits.maxMatchSubject) : value;
      const r = re.exec(subject);
      return r === null ? null : { groups: [...r].map((g) => g ?? '') };
    }
    case 'value':
      return relationHolds(m.relation, compareValues(m.comparator, value, key)) ? {} : null;
    case 'count':
      throw new SieveRuntimeError(':count compares the number of values, not one value');
  }
}

/** A run-time error: the run ends and the implicit keep applies (RFC 5228 §2.10.6). */
export class SieveRuntimeError extends Error {}
