/**
 * Flags as the file formats spell them, and the cleaning of flags that come
 * from outside before they reach the store.
 *
 * - Maildir info `:2,` letters (cr.yp.to/proto/maildir.html; Dovecot's
 *   maildir-filename-flags): D draft, F flagged, P passed, R replied, S seen,
 *   T trashed; lower-case letters a–z are keywords numbered by the folder's
 *   `dovecot-keywords` file. P has no IMAP system flag: on import it maps to
 *   the `$Forwarded` keyword (mutt's meaning); on export `$Forwarded` stays a
 *   numbered keyword, because Dovecot ignores P and keeps `$Forwarded` so.
 * - mbox headers, as written by mutt, Dovecot and UW-IMAP: `Status:` R seen
 *   (O, "old", has no IMAP meaning); `X-Status:` A answered, F flagged,
 *   T draft, D deleted; `X-Keywords:` keywords separated by spaces or commas.
 */
import { systemFlag } from '../flags.js';

/** The keyword Maildir's P (passed) letter stands for. */
export const FORWARDED = '$Forwarded';

/** Most keywords kept on one message (the store's limit). */
const MAX_KEYWORDS = 128;
/** Longest keyword kept (the store's limit). */
const MAX_KEYWORD_LENGTH = 255;
/** RFC 9051 §9 flag-keyword = atom: no atom-specials, and not ']' (resp-specials). */
const ATOM = /^[^\x00-\x20\x7f-\uffff(){%*"\\\]]+$/;

/** Maildir info letters of the system flags and $Forwarded, in ASCII order. */
const MAILDIR_LETTERS: ReadonlyArray<readonly [letter: string, flag: string]> = [
  ['D', '\\Draft'],
  ['F', '\\Flagged'],
  ['P', FORWARDED],
  ['R', '\\Answered'],
  ['S', '\\Seen'],
  ['T', '\\Deleted'],
];
const FLAG_BY_LETTER = new Map(MAILDIR_LETTERS);
const LETTER_BY_FLAG = new Map(MAILDIR_LETTERS.filter(([l]) => l !== 'P').map(([l, f]) => [f.toLowerCase(), l]));

/**
 * Flags from a Maildir info string (the part after `:2,`). `keywords[i]` is
 * the keyword of letter 'a' + i; unknown letters are ignored.
 */
export function flagsFromMaildirInfo(info: string, keywords: ReadonlyMap<number, string>): string[] {
  const out: string[] = [];
  for (const ch of info) {
    const flag = FLAG_BY_LETTER.get(ch);
    if (flag !== undefined) out.push(flag);
    else if (ch >= 'a' && ch <= 'z') {
      const kw = keywords.get(ch.charCodeAt(0) - 0x61);
      if (kw !== undefined) out.push(kw);
    }
  }
  return cleanFlags(out).flags;
}

/**
 * The Maildir info letters of a flag list, sorted (the spec asks for ASCII
 * order). `keywordIndex` gives each keyword's number, or undefined when it
 * has none (more than 26 keywords in a folder): those are returned in `lost`.
 */
export function maildirInfo(flags: readonly string[], keywordIndex: (keyword: string) => number | undefined): { info: string; lost: string[] } {
  const letters: string[] = [];
  const lost: string[] = [];
  for (const flag of flags) {
    const letter = LETTER_BY_FLAG.get(flag.toLowerCase());
    if (letter !== undefined) {
      letters.push(letter);
      continue;
    }
    const i = keywordIndex(flag);
    if (i !== undefined && i < 26) letters.push(String.fromCharCode(0x61 + i));
    else lost.push(flag);
  }
  return { info: [...new Set(letters)].sort().join(''), lost };
}

/** Flags from the values of an mbox message's Status, X-Status and X-Keywords headers. */
export function flagsFromMboxHeaders(status: string | undefined, xStatus: string | undefined, xKeywords: string | undefined): string[] {
  const out: string[] = [];
  if (status?.includes('R')) out.push('\\Seen');
  for (const [letter, flag] of [
    ['A', '\\Answered'],
    ['F', '\\Flagged'],
    ['T', '\\Draft'],
    ['D', '\\Deleted'],
  ] as const) {
    if (xStatus?.includes(letter)) out.push(flag);
  }
  if (xKeywords !== undefined) out.push(...xKeywords.split(/[\s,]+/).filter((k) => k !== ''));
  return cleanFlags(out).flags;
}

/** The Status, X-Status and X-Keywords header values of a flag list; empty values are omitted. */
export function mboxFlagHeaders(flags: readonly string[]): Array<[name: string, value: string]> {
  const has = (f: string): boolean => flags.some((x) => x.toLowerCase() === f.toLowerCase());
  const out: Array<[string, string]> = [];
  if (has('\\Seen')) out.push(['Status', 'RO']);
  const x = (has('\\Answered') ? 'A' : '') + (has('\\Flagged') ? 'F' : '') + (has('\\Draft') ? 'T' : '') + (has('\\Deleted') ? 'D' : '');
  if (x !== '') out.push(['X-Status', x]);
  const keywords = flags.filter((f) => !f.startsWith('\\'));
  if (keywords.length > 0) out.push(['X-Keywords', keywords.join(' ')]);
  return out;
}

/**
 * Flags from outside made fit for the store: system flags in canonical case,
 * \Recent and unknown system flags dropped, keywords that are not IMAP atoms
 * (or too long, or beyond the per-message limit) dropped, duplicates removed
 * case-insensitively. `dropped` lists what was left out.
 */
export function cleanFlags(flags: Iterable<string>): { flags: string[]; dropped: string[] } {
  const out: string[] = [];
  const dropped: string[] = [];
  const seen = new Set<string>();
  let keywords = 0;
  for (const flag of flags) {
    const lower = flag.toLowerCase();
    if (seen.has(lower) || lower === '\\recent') continue;
    const system = systemFlag(lower);
    const ok = system !== undefined || (!flag.startsWith('\\') && flag.length <= MAX_KEYWORD_LENGTH && ATOM.test(flag) && keywords < MAX_KEYWORDS);
    if (!ok) {
      dropped.push(flag);
      continue;
    }
    seen.add(lower);
    if (system === undefined) keywords++;
    out.push(system ?? flag);
  }
  return { flags: out, dropped };
}

/** Whether two flag lists hold the same flags (IMAP compares flags case-insensitively). */
export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a.map((f) => f.toLowerCase()));
  const y = new Set(b.map((f) => f.toLowerCase()));
  return x.size === y.size && [...x].every((f) => y.has(f));
}
