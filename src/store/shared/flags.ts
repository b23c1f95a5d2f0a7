/**
 * Message flags as stored: the five system flags as bits of one integer
 * (so counts and \Deleted lookups stay in SQL) and keywords as one
 * space-separated text, case-preserved, deduplicated case-insensitively
 * (RFC 9051 §2.3.2: flag names are case-insensitive).
 *
 * The bit values are part of the on-disk format: never renumber them.
 */
import { StoreError } from '../types.js';
import type { FlagOp } from '../types.js';

/** \Seen bit. */
export const SEEN = 1;
/** \Deleted bit. */
export const DELETED = 8;

/** System flags in canonical case with their bits, in the order they are reported. */
const SYSTEM_FLAGS: ReadonlyArray<readonly [name: string, bit: number]> = [
  ['\\Seen', SEEN],
  ['\\Answered', 2],
  ['\\Flagged', 4],
  ['\\Deleted', DELETED],
  ['\\Draft', 16],
];
const SYSTEM_BY_LOWER = new Map(SYSTEM_FLAGS.map(([name, bit]) => [name.toLowerCase(), bit]));

/** SQL condition for "flagged \Deleted"; the partial index in schema.ts uses this exact text. */
export const IS_DELETED_SQL = `system_flags & ${DELETED} <> 0`;

/** Most keywords one message may carry (bounds stored rows). */
export const MAX_KEYWORDS = 128;
/** Longest keyword accepted. */
export const MAX_KEYWORD_LENGTH = 255;

/** A normalized flag set. */
export interface FlagSet {
  /** Bit set of system flags. */
  system: number;
  /** Keywords, case-preserved, unique case-insensitively, in first-seen order. */
  keywords: string[];
}

/**
 * Normalizes flags from a caller: system flags matched case-insensitively,
 * \Recent dropped (it is never stored; RFC 3501 §2.3.2), duplicates removed.
 */
export function parseFlags(flags: readonly string[]): FlagSet {
  let system = 0;
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const flag of flags) {
    const lower = flag.toLowerCase();
    const bit = SYSTEM_BY_LOWER.get(lower);
    if (bit !== undefined) {
      system |= bit;
      continue;
    }
    if (lower === '\\recent') continue;
    // Space separates keywords on disk; the IMAP grammar forbids it (and controls) anyway.
    if (flag.length === 0 || flag.length > MAX_KEYWORD_LENGTH || /[\s\x00-\x1f\x7f]/.test(flag)) {
      throw new StoreError('CANNOT', 'invalid flag name');
    }
    if (seen.has(lower)) continue;
    seen.add(lower);
    keywords.push(flag);
  }
  checkKeywordCount(keywords);
  return { system, keywords };
}

function checkKeywordCount(keywords: readonly string[]): void {
  if (keywords.length > MAX_KEYWORDS) throw new StoreError('LIMIT', `more than ${MAX_KEYWORDS} keywords on one message`);
}

/** Keywords as stored. */
export function keywordsToText(keywords: readonly string[]): string {
  return keywords.join(' ');
}

/** Keywords from their stored text. */
export function keywordsFromText(text: string): string[] {
  return text === '' ? [] : text.split(' ');
}

/** The flag list reported to callers: system flags in canonical order, then keywords. */
export function flagList(system: number, keywordsText: string): string[] {
  const out: string[] = [];
  for (const [name, bit] of SYSTEM_FLAGS) if (system & bit) out.push(name);
  if (keywordsText !== '') out.push(...keywordsText.split(' '));
  return out;
}

function sameKeywords(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const lower = new Set(a.map((k) => k.toLowerCase()));
  return b.every((k) => lower.has(k.toLowerCase()));
}

/** Applies a STORE operation (RFC 9051 §6.4.6); null when the flags would not change. */
export function applyFlagOp(current: FlagSet, op: FlagOp, change: FlagSet): FlagSet | null {
  let next: FlagSet;
  if (op === 'set') {
    next = change;
  } else if (op === 'add') {
    const have = new Set(current.keywords.map((k) => k.toLowerCase()));
    const added = change.keywords.filter((k) => !have.has(k.toLowerCase()));
    next = { system: current.system | change.system, keywords: [...current.keywords, ...added] };
  } else {
    const drop = new Set(change.keywords.map((k) => k.toLowerCase()));
    next = { system: current.system & ~change.system, keywords: current.keywords.filter((k) => !drop.has(k.toLowerCase())) };
  }
  if (next.system === current.system && sameKeywords(current.keywords, next.keywords)) return null;
  checkKeywordCount(next.keywords);
  return next;
}
