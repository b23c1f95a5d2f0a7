/**
 * Response-line checkers for the fuzzer: each takes one server line (IMAP:
 * literals inlined after `{n}\r\n`) and returns what breaks the protocol's
 * response grammar, or null. They check structure, not meaning: status
 * responses and their bracketed codes, tags, continuation requests, atoms,
 * quoted strings, literal counts, list nesting, dates, text octets.
 */

/** RFC 9051 §9 response-data and its extensions' untagged responses (keyword → free text or values). */
const STATUS = new Set(['OK', 'NO', 'BAD', 'BYE', 'PREAUTH']);
const DATA = new Set([
  'CAPABILITY',
  'ENABLED',
  'FLAGS',
  'LIST',
  'LSUB',
  'STATUS',
  'SEARCH',
  'ESEARCH',
  'SORT',
  'THREAD',
  'NAMESPACE',
  'ID',
  'QUOTA',
  'QUOTAROOT',
  'METADATA',
  'VANISHED',
]);
/** RFC 9586 §3.3: under UIDONLY, `* uid UIDFETCH (…)` replaces FETCH. */
const NUMBERED = new Set(['EXISTS', 'EXPUNGE', 'FETCH', 'RECENT', 'UIDFETCH']);
/** Fetch attributes that carry a `[section]` (RFC 9051 §9 msg-att-static, RFC 3516). */
const SECTIONED = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)$/i;
/** RFC 9051 §9 date-time. */
const DATE_TIME = /^"(?: \d|\d\d)-(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"$/;
/** Deeper than this is no response mailkeep has reason to send (BODYSTRUCTURE nests far less). */
const MAX_DEPTH = 100;

class Bad extends Error {}

/**
 * Where a section spec that starts at `from` ends: the first "]" outside its
 * header-list. A header-fld-name is an astring (RFC 9051 §9), and an atom may
 * hold "]" (resp-specials), e.g. BODY[HEADER.FIELDS (SUBJE]CT)]; a quoted one
 * may hold ")" too. -1 when it does not end.
 */
function sectionEnd(b: Buffer, from: number): number {
  let depth = 0;
  for (let i = from; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x22) {
      for (i++; i < b.length && b[i] !== 0x22; i++) if (b[i] === 0x5c) i++;
    } else if (c === 0x28) depth++;
    else if (c === 0x29) depth = Math.max(0, depth - 1);
    else if (c === 0x5d && depth === 0) return i;
  }
  return -1;
}

/** Checks one IMAP response line (without its final CRLF); null when it parses. */
export function checkImapLine(line: Buffer): string | null {
  try {
    new ImapLine(line).check();
    return null;
  } catch (e) {
    if (e instanceof Bad) return e.message;
    throw e;
  }
}

/** The length of a well-formed UTF-8 sequence starting at b[i] (RFC 3629 §4), or 0. */
export function utf8Length(b: Buffer, i: number): number {
  const c = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => b[i + k] !== undefined && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const [lo, hi] = c === 0xe0 ? [0xa0, 0xbf] : c === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const [lo, hi] = c === 0xf0 ? [0x90, 0xbf] : c === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

class ImapLine {
  private pos = 0;

  constructor(private readonly b: Buffer) {}

  check(): void {
    const b = this.b;
    if (b[0] === 0x2b) {
      // RFC 9051 §7.5 continue-req = "+" SP (resp-text / base64)
      if (b[1] !== 0x20) throw new Bad('continuation request without SP');
      this.pos = 2;
      this.respText();
      return;
    }
    if (b[0] === 0x2a) {
      this.pos = 1;
      this.expect(' ', 'untagged response without SP');
      this.untagged();
      return;
    }
    const sp = b.indexOf(0x20);
    if (sp <= 0) throw new Bad('tagged response without a tag and SP');
    for (let i = 0; i < sp; i++) if (!isAstringChar(b[i]!) || b[i] === 0x2b) throw new Bad(`tag has octet 0x${b[i]!.toString(16)}`);
    this.pos = sp + 1;
    const word = this.keyword();
    if (word !== 'OK' && word !== 'NO' && word !== 'BAD') throw new Bad(`tagged response with ${word || 'no status'}`);
    this.expect(' ', 'no SP after the status');
    this.respText();
  }

  private untagged(): void {
    const b = this.b;
    if (isDigit(b[this.pos])) {
      const n = this.numberToken();
      this.expect(' ', 'no SP after the number');
      const what = this.keyword();
      if (!NUMBERED.has(what)) throw new Bad(`unknown numbered response ${what}`);
      if ((what === 'EXPUNGE' || what === 'FETCH' || what === 'UIDFETCH') && n === 0n) throw new Bad(`${what} of message 0`);
      if (what === 'FETCH' || what === 'UIDFETCH') {
        this.expect(' ', 'no SP after FETCH');
        this.fetchAtts();
      }
      this.end();
      return;
    }
    const word = this.keyword();
    if (STATUS.has(word)) {
      this.expect(' ', `no SP after ${word}`);
      this.respText();
      return;
    }
    if (!DATA.has(word)) throw new Bad(`unknown untagged response ${word || JSON.stringify(this.rest())}`);
    while (this.pos < b.length) {
      this.expect(' ', 'values not separated by one SP');
      this.value(0);
    }
  }

  /** RFC 9051 §7.5.2 msg-att: a list of name/value pairs. */
  private fetchAtts(): void {
    this.expect('(', 'FETCH data is not a list');
    for (let first = true; ; first = false) {
      if (this.b[this.pos] === 0x29) {
        if (first) throw new Bad('empty FETCH list');
        this.pos++;
        return;
      }
      if (!first) this.expect(' ', 'FETCH items not separated by one SP');
      const name = this.token().toUpperCase();
      this.expect(' ', `no SP after ${name}`);
      const start = this.pos;
      this.value(0);
      const value = this.b.subarray(start, this.pos).toString('latin1');
      if ((name === 'INTERNALDATE' || (name === 'SAVEDATE' && value !== 'NIL')) && !DATE_TIME.test(value)) throw new Bad(`${name} ${value} is not a date-time`);
      if ((name === 'UID' || name === 'RFC822.SIZE') && !/^\d+$/.test(value)) throw new Bad(`${name} ${value} is not a number`);
    }
  }

  /** resp-text = ["[" resp-text-code "]" SP] [text] (RFC 9051 §9). */
  private respText(): void {
    const b = this.b;
    if (b[this.pos] === 0x5b) {
      this.pos++;
      const code = this.codeAtom();
      if (b[this.pos] === 0x20) {
        this.pos++;
        const close = b.indexOf(0x5d, this.pos);
        if (close < 0) throw new Bad(`response code [${code} not closed`);
        if (close === this.pos) throw new Bad(`empty argument in [${code} ]`);
        this.text(this.pos, close);
        this.pos = close;
      }
      this.expect(']', `response code [${code} not closed by ]`);
      if (this.pos < b.length) this.expect(' ', `no SP after [${code}]`);
    }
    this.text(this.pos, b.length);
    this.pos = b.length;
  }

  private codeAtom(): string {
    const start = this.pos;
    while (this.pos < this.b.length && isAtomChar(this.b[this.pos]!) && this.b[this.pos] !== 0x5d) this.pos++;
    if (this.pos === start) throw new Bad('response code without an atom');
    return this.b.subarray(start, this.pos).toString('latin1');
  }

  /** text = 1*(TEXT-CHAR / UTF8-2 / UTF8-3 / UTF8-4): no NUL, CR, LF, and well-formed UTF-8. */
  private text(from: number, to: number): void {
    const b = this.b;
    for (let i = from; i < to; ) {
      const c = b[i]!;
      if (c === 0 || c === 0x0d || c === 0x0a) throw new Bad(`text has octet 0x${c.toString(16)} at ${i}`);
      if (c < 0x80) {
        i++;
        continue;
      }
      const n = utf8Length(b, i);
      if (n === 0) throw new Bad(`text has malformed UTF-8 at ${i}`);
      i += n;
    }
  }

  /** One value: list, quoted, literal, NIL, number or atom-like token. */
  private value(depth: number): void {
    const c = this.b[this.pos];
    if (c === 0x28) {
      if (depth > MAX_DEPTH) throw new Bad('lists nested too deep');
      this.pos++;
      for (let first = true; ; first = false) {
        if (this.pos >= this.b.length) throw new Bad('unterminated list');
        if (this.b[this.pos] === 0x29) {
          this.pos++;
          return;
        }
        // Lists of lists may be juxtaposed: env-from's 1*address, body-type-mpart's 1*body (RFC 9051 §9).
        const juxtaposed = this.b[this.pos] === 0x28 && this.b[this.pos - 1] === 0x29;
        if (!first && !juxtaposed) this.expect(' ', 'list items not separated by one SP');
        this.value(depth + 1);
      }
    }
    if (c === 0x22) return this.quoted();
    if (c === 0x7b || (c === 0x7e && this.b[this.pos + 1] === 0x7b)) return this.literal();
    this.token();
  }

  /** quoted = DQUOTE *QUOTED-CHAR DQUOTE (RFC 9051 §9, UTF-8 allowed). */
  private quoted(): void {
    const b = this.b;
    for (this.pos++; this.pos < b.length; ) {
      const c = b[this.pos]!;
      if (c === 0x22) {
        this.pos++;
        return;
      }
      if (c === 0x5c) {
        if (b[this.pos + 1] !== 0x22 && b[this.pos + 1] !== 0x5c) throw new Bad(`quoted string escapes 0x${(b[this.pos + 1] ?? 0).toString(16)}`);
        this.pos += 2;
        continue;
      }
      if (c === 0 || c === 0x0d || c === 0x0a) throw new Bad(`quoted string has octet 0x${c.toString(16)}`);
      if (c >= 0x80) {
        const n = utf8Length(b, this.pos);
        if (n === 0) throw new Bad('quoted string has malformed UTF-8');
        this.pos += n;
      } else this.pos++;
    }
    throw new Bad('unterminated quoted string');
  }

  /** literal = "{" number "}" CRLF *CHAR8; literal8 = "~{" number "}" CRLF *OCTET (RFC 9051 §9, RFC 3516). */
  private literal(): void {
    const b = this.b;
    const binary = b[this.pos] === 0x7e;
    const m = /^~?\{(\d{1,19})\}\r\n/.exec(b.subarray(this.pos, this.pos + 26).toString('latin1'));
    if (!m) throw new Bad('malformed literal prefix');
    const n = Number(m[1]);
    const start = this.pos + m[0].length;
    if (start + n > b.length) throw new Bad(`literal of ${n} octets runs past the line`);
    if (!binary && b.subarray(start, start + n).includes(0)) throw new Bad('NUL in a non-binary literal');
    this.pos = start + n;
    const next = b[this.pos];
    if (next !== undefined && next !== 0x20 && next !== 0x29) throw new Bad(`literal count ${n} is off: 0x${next.toString(16)} follows`);
  }

  /** An astring atom (ASTRING-CHAR: "]" allowed), number, NIL, flag (`\Seen`, `\*`) or fetch item name with `[section]<partial>`. */
  private token(): string {
    const b = this.b;
    const start = this.pos;
    while (this.pos < b.length) {
      const c = b[this.pos]!;
      if (c === 0x5b && SECTIONED.test(b.subarray(start, this.pos).toString('latin1'))) {
        const close = sectionEnd(b, this.pos + 1);
        if (close < 0) throw new Bad('[ without ]');
        for (let i = this.pos + 1; i < close; i++) if (b[i]! < 0x20 || b[i]! > 0x7e) throw new Bad(`section has octet 0x${b[i]!.toString(16)}`);
        this.pos = close + 1;
        continue;
      }
      if (c === 0x5c || c === 0x2a || c === 0x25 || isAtomChar(c)) {
        this.pos++;
        continue;
      }
      break;
    }
    if (this.pos === start) throw new Bad(`value expected, found ${describe(b[start])} at ${start}`);
    return b.subarray(start, this.pos).toString('latin1');
  }

  private numberToken(): bigint {
    const start = this.pos;
    while (isDigit(this.b[this.pos])) this.pos++;
    return BigInt(this.b.subarray(start, this.pos).toString('latin1'));
  }

  private keyword(): string {
    const start = this.pos;
    while (this.pos < this.b.length && isAtomChar(this.b[this.pos]!) && this.b[this.pos] !== 0x5d) this.pos++;
    return this.b.subarray(start, this.pos).toString('latin1').toUpperCase();
  }

  private expect(ch: string, message: string): void {
    if (this.b[this.pos] !== ch.charCodeAt(0)) throw new Bad(`${message} (found ${describe(this.b[this.pos])} at ${this.pos})`);
    this.pos++;
  }

  private end(): void {
    if (this.pos !== this.b.length) throw new Bad(`trailing ${JSON.stringify(this.rest())}`);
  }

  private rest(): string {
    return this.b.subarray(this.pos, this.pos + 40).toString('latin1');
  }
}

function describe(c: number | undefined): string {
  return c === undefined ? 'end of line' : `0x${c.toString(16)}`;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** ATOM-CHAR: any CHAR except atom-specials "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]" (RFC 9051 §9). */
function isAtomChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && c !== 0x28 && c !== 0x29 && c !== 0x7b && c !== 0x25 && c !== 0x2a && c !== 0x22 && c !== 0x5c;
}

/** ASTRING-CHAR = ATOM-CHAR / "]". */
function isAstringChar(c: number): boolean {
  return isAtomChar(c);
}

/** Checks one POP3 status or SASL continuation line (RFC 1939 §3, RFC 2449 §4, RFC 5034 §4); null when it parses. */
export function checkPop3Status(line: Buffer): string | null {
  if (line.length > 510) return `status line of ${line.length} octets (RFC 2449 §4: 512 with CRLF)`;
  const s = line.toString('latin1');
  if (/^\+ [A-Za-z0-9+/]*={0,2}$/.test(s) || s === '+') return null;
  if (!/^(\+OK|-ERR)( |$)/.test(s)) return `not a status line: ${JSON.stringify(s.slice(0, 60))}`;
  return textProblem(line, 0);
}

/** Checks one LMTP/SMTP reply line (RFC 5321 §4.2: Reply-code [SP / "-" textstring]); null when it parses. */
export function checkSmtpLine(line: Buffer): string | null {
  const s = line.toString('latin1');
  if (!/^[2-5][0-5]\d([ -]|$)/.test(s)) return `not a reply line: ${JSON.stringify(s.slice(0, 60))}`;
  if (line.length > 510) return `reply line of ${line.length} octets (RFC 5321 §4.5.3.1.5: 512 with CRLF)`;
  for (let i = 4; i < line.length; i++)
    if (line[i] !== 9 && (line[i]! < 0x20 || line[i]! > 0x7e)) return `reply text has octet 0x${line[i]!.toString(16)} (RFC 5321 §4.2: textstring)`;
  return null;
}

/** A NUL, CR, LF or malformed UTF-8 in a text line. */
function textProblem(b: Buffer, from: number): string | null {
  for (let i = from; i < b.length; ) {
    const c = b[i]!;
    if (c === 0 || c === 0x0d || c === 0x0a) return `octet 0x${c.toString(16)} at ${i}`;
    if (c < 0x80) i++;
    else {
      const n = utf8Length(b, i);
      if (n === 0) return `malformed UTF-8 at ${i}`;
      i += n;
    }
  }
  return null;
}
