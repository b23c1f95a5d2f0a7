/**
 * RFC 5322 / RFC 2045 token scanner over one header field value.
 *
 * Every scanning method returns the same tri-state as Dovecot's rfc822
 * parser, because the MIME and address grammars built on top of it decide
 * "is there more?" from it: 1 = input continues after the token (and after
 * any CFWS, which is skipped), 0 = input ended, -1 = syntax error.
 * Matching that contract keeps BODYSTRUCTURE and ENVELOPE output identical
 * to Dovecot's for malformed input too.
 */
import { ByteBuilder } from './byte-builder.js';

const SP = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;

// RFC 5322 atext = 1, letters/digits = 2, atext that MIME calls tspecials ("/", "=", "?") = 4.
const ATEXT = new Uint8Array(256);
for (let c = 0x80; c < 0x100; c++) ATEXT[c] = 2; // 8-bit octets are tolerated as atext
for (let c = 0x30; c <= 0x39; c++) ATEXT[c] = 2;
for (let c = 0x41; c <= 0x5a; c++) ATEXT[c] = 2;
for (let c = 0x61; c <= 0x7a; c++) ATEXT[c] = 2;
for (const ch of "!#$%&'*+-^_`{|}~") ATEXT[ch.charCodeAt(0)] = 1;
for (const ch of '/=?') ATEXT[ch.charCodeAt(0)] = 4;

/** RFC 5322 §3.2.3 atext (8-bit octets included). */
export const isAtext = (c: number): boolean => c >= 0 && ATEXT[c] !== 0;
/** RFC 2045 §5.1 token character, plus "." as Dovecot allows. */
const isTokenChar = (c: number): boolean => c >= 0 && ((ATEXT[c] ?? 0) & 3) !== 0;
const isTokenOrDot = (c: number): boolean => isTokenChar(c) || c === 0x2e;
const isAtextOrDot = (c: number): boolean => isAtext(c) || c === 0x2e;
/** Folding white space characters. */
export const isLwsp = (c: number): boolean => c === SP || c === TAB;

/** Cursor over a header field value with the scanning primitives. */
export class Rfc822Lexer {
  pos = 0;
  readonly end: number;
  /** Text of the most recently skipped comment, when collecting (address display-name fallback). */
  lastComment: ByteBuilder | null;

  constructor(
    readonly data: Buffer,
    collectComments = false,
  ) {
    this.end = data.length;
    this.lastComment = collectComments ? new ByteBuilder() : null;
  }

  /** The octet at the cursor, or -1 at the end. */
  peek(): number {
    return this.pos < this.end ? (this.data[this.pos] ?? -1) : -1;
  }

  /** True when the input is exhausted. */
  atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** Appends the octets from the cursor that `accepts`, possibly none, then skips CFWS. */
  private run(out: ByteBuilder, accepts: (c: number) => boolean): number {
    const start = this.pos;
    while (this.pos < this.end && accepts(this.data[this.pos] ?? -1)) this.pos++;
    out.append(this.data, start, this.pos);
    return this.pos < this.end ? this.skipLwsp() : 0;
  }

  /** Folding (RFC 5322 §3.2.2): appends the text before the LF at the cursor without its line break; returns where the text resumes. */
  private unfold(out: ByteBuilder, start: number): number {
    out.append(this.data, start, this.pos > start && this.data[this.pos - 1] === CR ? this.pos - 1 : this.pos);
    return this.pos + 1;
  }

  /**
   * RFC 5322 §3.2.1 quoted-pair, the cursor on the backslash: appends the text before it and returns where the
   * text resumes (the escaped octet). A backslash before CR, LF or NUL stays literal (the start is kept); -1 at the end of input.
   */
  private quotedPair(out: ByteBuilder | null, start: number): number {
    this.pos++;
    if (this.pos >= this.end) return -1;
    const n = this.data[this.pos];
    if (n === CR || n === LF || n === 0) {
      this.pos--;
      return start;
    }
    out?.append(this.data, start, this.pos - 1);
    return this.pos;
  }

  /** Skips a (nested) comment; the cursor is on "(". */
  skipComment(): number {
    const out = this.lastComment;
    out?.truncate(0);
    let level = 1;
    let start = ++this.pos;
    for (; this.pos < this.end; this.pos++) {
      const c = this.data[this.pos];
      if (c === 0x28) level++;
      else if (c === 0x29) {
        if (--level === 0) {
          out?.append(this.data, start, this.pos);
          this.pos++;
          return this.pos < this.end ? 1 : 0;
        }
      } else if (c === LF) {
        if (out === null) continue;
        // folding inside a comment: drop the line break
        start = this.unfold(out, start);
      } else if (c === BACKSLASH) {
        start = this.quotedPair(out, start);
        if (start < 0) return -1;
      }
    }
    return -1; // missing ")"
  }

  /** Skips white space, line breaks and comments. */
  skipLwsp(): number {
    while (this.pos < this.end) {
      const c = this.data[this.pos];
      if (c === SP || c === TAB || c === CR || c === LF) {
        this.pos++;
        continue;
      }
      if (c !== 0x28) break;
      if (this.skipComment() < 0) return -1;
    }
    return this.pos < this.end ? 1 : 0;
  }

  /** RFC 5322 atom. */
  atom(out: ByteBuilder): number {
    return isAtext(this.peek()) ? this.run(out, isAtext) : -1;
  }

  /** RFC 5322 dot-atom, tolerating CFWS around the dots like RFC 822 did. */
  dotAtom(out: ByteBuilder): number {
    if (!isAtext(this.peek())) return -1;
    let start = this.pos++;
    while (this.pos < this.end) {
      if (isAtext(this.data[this.pos] ?? -1)) {
        this.pos++;
        continue;
      }
      if (start === this.pos) return -1;
      out.append(this.data, start, this.pos);
      const ret = this.skipLwsp();
      if (ret <= 0) return ret;
      if (this.data[this.pos] !== 0x2e) return 1;
      this.pos++;
      out.appendByte(0x2e);
      if (this.skipLwsp() <= 0) return -1;
      start = this.pos;
    }
    out.append(this.data, start, this.pos);
    return 0;
  }

  /** RFC 2045 token (also accepts "."), possibly empty. */
  mimeToken(out: ByteBuilder): number {
    return this.run(out, isTokenOrDot);
  }

  /** RFC 5322 quoted-string, unescaped, with folding line breaks removed; the cursor is on the quote. */
  quotedString(out: ByteBuilder): number {
    let start = ++this.pos;
    for (; this.pos < this.end; this.pos++) {
      const c = this.data[this.pos];
      if (c === DQUOTE) {
        out.append(this.data, start, this.pos);
        this.pos++;
        return this.skipLwsp();
      }
      if (c === LF) {
        start = this.unfold(out, start);
      } else if (c === BACKSLASH) {
        start = this.quotedPair(out, start);
        if (start < 0) return -1;
      }
    }
    return -1; // missing closing quote
  }

  private atomOrDot(out: ByteBuilder): number {
    return this.run(out, isAtextOrDot);
  }

  /** RFC 5322 phrase (obs-phrase tolerated): words joined by single spaces. */
  phrase(out: ByteBuilder): number {
    if (this.pos >= this.end) return 0;
    if (this.peek() === 0x2e) return -1;
    for (;;) {
      const ret = this.peek() === DQUOTE ? this.quotedString(out) : this.atomOrDot(out);
      if (ret <= 0) return ret;
      const c = this.peek();
      if (!isAtext(c) && c !== DQUOTE && c !== 0x2e) break;
      out.appendByte(SP);
    }
    return this.skipLwsp();
  }

  private domainLiteral(out: ByteBuilder): number {
    let start = this.pos++;
    for (; this.pos < this.end; this.pos++) {
      const c = this.data[this.pos];
      if (c === 0x5b) return -1;
      if (c === 0x5d) {
        out.append(this.data, start, this.pos + 1);
        this.pos++;
        return this.skipLwsp();
      }
      if (c === LF) {
        start = this.unfold(out, start);
      } else if (c === BACKSLASH) {
        this.pos++;
        if (this.pos >= this.end) return -1;
        const n = this.data[this.pos];
        if (n === CR || n === LF || n === 0) {
          out.append(this.data, start, this.pos);
          start = this.pos;
          this.pos--;
        }
      }
    }
    return -1; // missing "]"
  }

  /** RFC 5322 domain (dot-atom or domain-literal); the cursor is on "@". */
  domain(out: ByteBuilder): number {
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    return this.peek() === 0x5b ? this.domainLiteral(out) : this.dotAtom(out);
  }

  /**
   * RFC 2045 §5.1 "type/subtype". On failure `out` keeps whatever part was
   * recognisable: the bare type when the subtype is missing, nothing when
   * trailing junk follows (Dovecot 2.3 reports such parts as "" "").
   */
  contentType(out: ByteBuilder): number {
    const start = out.length;
    if (this.skipLwsp() <= 0) return -1;
    if (this.mimeToken(out) <= 0 || out.length === start) return -1;
    if (this.peek() !== 0x2f) {
      out.truncate(start);
      return -1;
    }
    this.pos++;
    if (this.skipLwsp() <= 0) {
      out.truncate(start);
      return -1;
    }
    out.appendByte(0x2f);
    const sub = out.length;
    const ret = this.mimeToken(out);
    if (ret < 0 || out.length === sub || (this.pos < this.end && this.peek() !== 0x3b)) {
      out.truncate(start);
      return -1;
    }
    return ret;
  }

  /** One `; attribute = value` parameter; 0 when the input is exhausted. */
  contentParam(key: ByteBuilder, value: ByteBuilder): number {
    key.truncate(0);
    value.truncate(0);
    if (this.pos >= this.end) return 0;
    if (this.peek() !== 0x3b) return -1;
    this.pos++;
    if (this.skipLwsp() <= 0) return -1;
    if (this.mimeToken(key) <= 0) return -1;
    if (this.peek() !== 0x3d) return -1;
    this.pos++;
    let ret = this.skipLwsp();
    if (ret <= 0) {
      // no value: an empty one
    } else if (this.peek() === DQUOTE) {
      ret = this.quotedString(value);
    } else if (this.peek() === 0x3d) {
      // broken but common: name==?utf-8?b?...?= (an unquoted encoded word)
      while (this.pos < this.end) {
        const c = this.data[this.pos] ?? 0;
        if (c === 0x3b || c === SP || c === TAB || c === CR || c === LF) break;
        value.appendByte(c);
        this.pos++;
      }
    } else {
      ret = this.mimeToken(value);
    }
    return ret < 0 ? -1 : 1;
  }
}
