/**
 * The ManageSieve command tokenizer (RFC 5804 §4), I/O-free: one line of a
 * command becomes atoms and strings; a line that ends in a literal
 * announcement (`{n+}`, or `{n}` which clients send too) says how many raw
 * octets follow before the command goes on.
 *
 * Invariants: quoted strings hold at most 1024 octets (RFC 5804 §4
 * `quoted`); a literal's size is a 32-bit number without leading zeros; the
 * caller bounds the line and the literal before reading them.
 */
import { badCommand } from '../errors.js';

/** An argument: an atom (command names, numbers) or a string's octets. */
export type Token = { kind: 'atom'; text: string } | { kind: 'string'; bytes: Buffer };

/** One line's tokens, and the literal announced at its end, if any. */
export interface LineTokens {
  tokens: Token[];
  /** Octets of the literal that follows this line, or null when the command ends here. */
  literal: number | null;
}

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const BRACE = 0x7b;
/** RFC 5804 §4 `quoted`: at most 1024 octets between the quotes. */
const MAX_QUOTED = 1024;
/** RFC 5804 §4 `atom`: at most 1024 characters. */
const MAX_ATOM = 1024;
// RFC 5804 §4 ATOM-SPECIALS: "(" / ")" / "{" / SP / CTL / DQUOTE / "\".
const isAtomChar = (c: number): boolean => c > 0x20 && c < 0x7f && c !== 0x28 && c !== 0x29 && c !== BRACE && c !== DQUOTE && c !== BACKSLASH;

/**
 * Splits one line (without CRLF) into tokens. `continued`: the line follows a literal, so it
 * either is empty or goes on with a space.
 */
export function tokenizeLine(line: Buffer, continued: boolean): LineTokens {
  const tokens: Token[] = [];
  let i = 0;
  if (continued) {
    if (line.length === 0) return { tokens, literal: null };
    if (line[0] !== SP) throw badCommand('Expected a space after the literal');
  }
  for (;;) {
    if (tokens.length > 0 || continued) {
      if (i === line.length) return { tokens, literal: null };
      if (line[i] !== SP) throw badCommand('Expected a space between arguments');
      i++;
    }
    if (i >= line.length) throw badCommand('Missing argument');
    const c = line[i]!;
    if (c === DQUOTE) {
      const [bytes, next] = quoted(line, i + 1);
      tokens.push({ kind: 'string', bytes });
      i = next;
    } else if (c === BRACE) {
      const m = /^\{(0|[1-9]\d{0,9})(\+?)\}$/.exec(line.subarray(i).toString('latin1'));
      if (!m || Number(m[1]) > 0xffffffff) throw badCommand('Invalid literal');
      return { tokens, literal: Number(m[1]) };
    } else {
      const start = i;
      while (i < line.length && isAtomChar(line[i]!)) i++;
      if (i === start) throw badCommand('Invalid character in command');
      if (i - start > MAX_ATOM) throw badCommand('Atom too long');
      tokens.push({ kind: 'atom', text: line.subarray(start, i).toString('latin1') });
    }
  }
}

/** A quoted string's octets (RFC 5804 §4 QUOTED-CHAR: `\` escapes only `"` and `\`) and the index after its closing quote. */
function quoted(line: Buffer, from: number): [Buffer, number] {
  const out: number[] = [];
  for (let i = from; i < line.length; i++) {
    let c = line[i]!;
    if (c === DQUOTE) return [Buffer.from(out), i + 1];
    if (c === BACKSLASH) {
      c = line[++i] ?? 0;
      if (c !== DQUOTE && c !== BACKSLASH) throw badCommand('Invalid escape in quoted string');
    } else if (c === 0) throw badCommand('NUL in quoted string');
    out.push(c);
    if (out.length > MAX_QUOTED) throw badCommand('Quoted string too long; use a literal');
  }
  throw badCommand('Unterminated quoted string');
}
