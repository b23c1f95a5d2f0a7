/**
 * Message flags on the wire (RFC 9051 §2.3.2): the bounds and BAD answers of
 * STORE and APPEND, and the FLAGS list a client sees. The vocabulary itself
 * is mail/flags.ts.
 */
import { systemFlag } from '../mail/flags.js';
import type { FlagOp } from '../store/types.js';
import { bad } from './errors.js';

/** Bounds on keywords: length and how many one command may name. */
export const MAX_KEYWORD_LENGTH = 128;
export const MAX_FLAGS_PER_COMMAND = 64;

/** Canonicalizes client flags for STORE/APPEND; BAD for \Recent or unknown system flags. */
export function canonicalFlags(flags: readonly string[]): string[] {
  if (flags.length > MAX_FLAGS_PER_COMMAND) throw bad('Too many flags');
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    let c = f;
    if (f.startsWith('\\')) {
      const sys = systemFlag(f);
      if (!sys) throw bad(`Invalid system flag ${f}`);
      c = sys;
    } else if (f.length > MAX_KEYWORD_LENGTH) {
      throw bad('Keyword too long');
    }
    const key = c.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(c);
    }
  }
  return out;
}

/** The parenthesized FLAGS value, with \Recent for rev1 sessions that own it. */
export function formatFlags(flags: readonly string[], recent: boolean): string {
  return `(${recent ? [...flags, '\\Recent'].join(' ') : flags.join(' ')})`;
}

/**
 * Whether `after` is what a client that knew `before` expects from a STORE of
 * `op` with `change` (flags compared case-insensitively): then a .SILENT
 * STORE's result tells it nothing new (RFC 9051 §6.4.6).
 */
export function isStoreOutcome(before: readonly string[], op: FlagOp, change: readonly string[], after: readonly string[]): boolean {
  // Called for every message of a STORE 1:* (100,000 and more): a few flags each, compared in place, nothing allocated.
  const expected = (f: string): boolean =>
    op === 'set' ? holds(change, f) : op === 'add' ? holds(before, f) || holds(change, f) : holds(before, f) && !holds(change, f);
  for (const f of after) if (!expected(f)) return false;
  for (const f of op === 'set' ? change : before) if (expected(f) && !holds(after, f)) return false;
  if (op === 'add') for (const f of change) if (!holds(after, f)) return false;
  return true;
}

/** Whether the list holds the flag, compared case-insensitively. */
function holds(list: readonly string[], flag: string): boolean {
  for (const f of list) if (f.length === flag.length && (f === flag || f.toLowerCase() === flag.toLowerCase())) return true;
  return false;
}
