/**
 * LIST and LSUB patterns (RFC 9051 §6.3.9): `*` matches any run of
 * characters, `%` any run without the hierarchy separator; INBOX matches
 * case-insensitively (canonicalName).
 *
 * Invariants: a pattern is matched by dynamic programming over (pattern
 * position × name position), never by backtracking; runs of wildcards are
 * collapsed first (`**%*` is `*`), and a name shorter than the pattern's
 * literal characters, or without its fixed prefix or suffix, is refused
 * before any table is filled. One command spends at most MAX_MATCH_CELLS
 * table cells (NO [LIMIT] beyond) and yields to the event loop every
 * WorkSlice, so no pattern stalls other sessions (issue 18, finding 5).
 */
import { canonicalName, SEPARATOR } from '../mail/mailbox-name.js';
import { WorkSlice } from '../store/shared/background.js';
import { no } from './errors.js';

/** Table cells one LIST or LSUB may fill: about a tenth of a second of matching. */
export const MAX_MATCH_CELLS = 100_000_000;
/** Code points stand for themselves; the wildcards are negative. */
const STAR = -1;
const PERCENT = -2;
const SEP = SEPARATOR.codePointAt(0)!;

const codePoints = (s: string): number[] => Array.from(s, (c) => c.codePointAt(0)!);

/** One compiled pattern: its tokens and what lets most names be refused at once. */
class Pattern {
  private readonly literals: number;
  private readonly prefix: number;
  private readonly suffix: number;

  constructor(private readonly tokens: readonly number[]) {
    this.literals = tokens.filter((t) => t >= 0).length;
    const first = tokens.findIndex((t) => t < 0);
    this.prefix = first < 0 ? tokens.length : first;
    let last = tokens.length - 1;
    while (last >= 0 && tokens[last]! >= 0) last--;
    this.suffix = tokens.length - 1 - last;
  }

  /** Whether the pattern matches `name`; `charge` is told the cells filled. */
  matches(name: readonly number[], charge: (cells: number) => void): boolean {
    const pat = this.tokens;
    const n = name.length;
    if (this.literals > n) return false;
    if (this.prefix === pat.length) return n === pat.length && this.fixed(name, 0, 0, n);
    if (!this.fixed(name, 0, 0, this.prefix) || !this.fixed(name, n - this.suffix, pat.length - this.suffix, this.suffix)) return false;
    charge((pat.length + 1) * (n + 1));
    // prev[j]: the pattern's first i-1 tokens match the name's first j code points.
    let prev = new Uint8Array(n + 1);
    let cur = new Uint8Array(n + 1);
    prev[0] = 1;
    for (const p of pat) {
      cur.fill(0);
      if (p < 0) {
        cur[0] = prev[0]!;
        for (let j = 1; j <= n; j++) cur[j] = prev[j]! | (cur[j - 1]! & (p === STAR || name[j - 1] !== SEP ? 1 : 0));
      } else {
        for (let j = 1; j <= n; j++) cur[j] = prev[j - 1]! & (name[j - 1] === p ? 1 : 0);
      }
      [prev, cur] = [cur, prev];
    }
    return prev[n] === 1;
  }

  /** The name's `count` code points from `at` equal the pattern's from `from`. */
  private fixed(name: readonly number[], at: number, from: number, count: number): boolean {
    for (let k = 0; k < count; k++) if (name[at + k] !== this.tokens[from + k]) return false;
    return true;
  }
}

/** The tokens of a pattern, each run of wildcards collapsed to one (`*` if the run holds one, else `%`). */
function tokenize(full: string): number[] {
  const out: number[] = [];
  for (const c of codePoints(canonicalName(full))) {
    const t = c === 0x2a ? STAR : c === 0x25 ? PERCENT : c;
    const last = out[out.length - 1];
    if (t < 0 && last !== undefined && last < 0) out[out.length - 1] = t === STAR || last === STAR ? STAR : PERCENT;
    else out.push(t);
  }
  return out;
}

/** RFC 9051 §6.3.9: the reference and the pattern make one name pattern. */
function joined(reference: string, pattern: string): string {
  if (pattern.startsWith(SEPARATOR) || reference === '') return pattern;
  return reference.endsWith(SEPARATOR) ? reference + pattern : reference + SEPARATOR + pattern;
}

/** The patterns of one LIST (RFC 5258 §3: a name matches if any of them does) or LSUB. */
export class ListPatterns {
  private readonly patterns: Pattern[];

  constructor(reference: string, patterns: readonly string[]) {
    this.patterns = patterns.map((p) => new Pattern(tokenize(joined(reference, p))));
  }

  /** The candidate names that match; NO [LIMIT] once the command's matching budget is spent. */
  async matching(candidates: Iterable<string>): Promise<Set<string>> {
    const out = new Set<string>();
    let spent = 0;
    const charge = (cells: number): void => {
      spent += cells;
      if (spent > MAX_MATCH_CELLS) throw no('LIMIT', 'LIST patterns too costly for this many mailboxes; use simpler patterns');
    };
    const slice = new WorkSlice();
    for (const name of candidates) {
      const points = codePoints(name);
      if (this.patterns.some((p) => p.matches(points, charge))) out.add(name);
      if (slice.spent()) await slice.yield();
    }
    return out;
  }
}
