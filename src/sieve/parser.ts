/**
 * Sieve lexer and parser (RFC 5228 §8.1 lexical tokens, §8.2 grammar).
 * I/O-free and bounded: the script size, the nesting of blocks and test
 * lists and the length of string lists are limited, and every loop advances
 * the input, so any input ends in linear time. Errors carry the line and
 * column of the offending token.
 */
import type { Argument, CommandNode, Position, SieveError, TestNode } from './ast.js';
import type { SieveLimits } from './limits.js';

type Token =
  | { t: 'id'; v: string; pos: Position }
  | { t: 'tag'; v: string; pos: Position }
  | { t: 'num'; v: number; pos: Position }
  | { t: 'str'; v: string; pos: Position }
  | { t: 'sym'; v: string; pos: Position }
  | { t: 'eof'; pos: Position };

/** A failure at a known place; the parser stops at the first one. */
class ParseFailure extends Error {
  constructor(
    readonly pos: Position,
    message: string,
  ) {
    super(message);
  }
}

const isAlpha = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const QUANTIFIER: Record<string, number> = { K: 1024, k: 1024, M: 1024 * 1024, m: 1024 * 1024, G: 1024 * 1024 * 1024, g: 1024 * 1024 * 1024 };

/** Splits the script into tokens, tracking line and column. */
class Lexer {
  private i = 0;
  private line = 1;
  private col = 1;

  constructor(private readonly s: string) {}

  private here(): Position {
    return { line: this.line, column: this.col };
  }

  private advance(n = 1): void {
    for (let k = 0; k < n && this.i < this.s.length; k++) {
      const code = this.s.charCodeAt(this.i);
      if (code === 0x0a) {
        this.line++;
        this.col = 1;
      } else if (code < 0xdc00 || code > 0xdfff) this.col++; // a low surrogate ends a character already counted
      this.i++;
    }
  }

  private skipSpaceAndComments(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.advance();
      else if (c === '#') {
        while (this.i < this.s.length && this.s[this.i] !== '\n') this.advance();
      } else if (c === '/' && this.s[this.i + 1] === '*') {
        const start = this.here();
        const end = this.s.indexOf('*/', this.i + 2);
        if (end < 0) throw new ParseFailure(start, 'unterminated bracket comment');
        this.advance(end + 2 - this.i);
      } else return;
    }
  }

  /** The next token and the position just after it. */
  next(): { tok: Token; end: Position } {
    const tok = this.token();
    return { tok, end: this.here() };
  }

  private token(): Token {
    this.skipSpaceAndComments();
    const pos = this.here();
    const c = this.s[this.i];
    if (c === undefined) return { t: 'eof', pos };
    if (isAlpha(c)) {
      const v = this.word();
      if (v.toLowerCase() === 'text' && this.s[this.i] === ':') {
        this.advance();
        return { t: 'str', v: this.multiline(pos), pos };
      }
      return { t: 'id', v: v.toLowerCase(), pos };
    }
    if (c === ':') {
      this.advance();
      if (!isAlpha(this.s[this.i] ?? '')) throw new ParseFailure(pos, 'expected a tag name after ":"');
      return { t: 'tag', v: this.word().toLowerCase(), pos };
    }
    if (isDigit(c)) {
      let digits = '';
      while (isDigit(this.s[this.i] ?? '')) {
        digits += this.s[this.i];
        this.advance();
      }
      const q = QUANTIFIER[this.s[this.i] ?? ''];
      if (q !== undefined) this.advance();
      const v = Number(digits) * (q ?? 1);
      // RFC 5228 §2.4.1: implementations must support at least 2^31 - 1; larger numbers are an error here
      if (!Number.isSafeInteger(v) || v > 0xffffffff) throw new ParseFailure(pos, 'number is too large');
      return { t: 'num', v, pos };
    }
    if (c === '"') return { t: 'str', v: this.quoted(pos), pos };
    if ('[](){},;'.includes(c)) {
      this.advance();
      return { t: 'sym', v: c, pos };
    }
    throw new ParseFailure(pos, `unexpected character '${c}'`);
  }

  private word(): string {
    const start = this.i;
    while (isAlpha(this.s[this.i] ?? '') || isDigit(this.s[this.i] ?? '')) this.advance();
    return this.s.slice(start, this.i);
  }

  // RFC 5228 §2.4.2: "\" escapes the next character; other backslashes are removed
  private quoted(pos: Position): string {
    this.advance();
    let out = '';
    for (;;) {
      const c = this.s[this.i];
      if (c === undefined) throw new ParseFailure(pos, 'unterminated quoted string');
      if (c === '"') {
        this.advance();
        return out;
      }
      if (c === '\\') {
        this.advance();
        const e = this.s[this.i];
        if (e === undefined) throw new ParseFailure(pos, 'unterminated quoted string');
        out += e;
        this.advance();
        continue;
      }
      // a bare CR or LF stays; CRLF is kept as written (RFC 5228 §2.4.2)
      out += c;
      this.advance();
    }
  }

  // RFC 5228 §2.4.2: text: ... CRLF lines ... "." CRLF, with dot-stuffing
  private multiline(pos: Position): string {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.advance();
    if (this.s[this.i] === '#') while (this.i < this.s.length && this.s[this.i] !== '\n') this.advance();
    if (this.s[this.i] === '\r') this.advance();
    if (this.s[this.i] !== '\n') throw new ParseFailure(this.here(), 'expected end of line after "text:"');
    this.advance();
    const lines: string[] = [];
    for (;;) {
      if (this.i >= this.s.length) throw new ParseFailure(pos, 'unterminated multi-line string (missing "." line)');
      let end = this.s.indexOf('\n', this.i);
      if (end < 0) end = this.s.length;
      let line = this.s.slice(this.i, end);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      this.advance(end + 1 - this.i);
      if (line === '.') return lines.map((l) => `${l}\r\n`).join('');
      lines.push(line.startsWith('.') ? line.slice(1) : line);
    }
  }
}

/** Recursive-descent parser over the token stream (RFC 5228 §8.2). */
class Parser {
  private tok: Token;
  private tokEnd: Position;
  /** Where the last consumed token ended: a missing ";" is reported there. */
  private prevEnd: Position = { line: 1, column: 1 };
  private depth = 0;

  constructor(
    private readonly lex: Lexer,
    private readonly limits: SieveLimits,
  ) {
    const first = lex.next();
    this.tok = first.tok;
    this.tokEnd = first.end;
  }

  private take(): Token {
    const t = this.tok;
    this.prevEnd = this.tokEnd;
    const n = this.lex.next();
    this.tok = n.tok;
    this.tokEnd = n.end;
    return t;
  }

  private isSym(v: string): boolean {
    return this.tok.t === 'sym' && this.tok.v === v;
  }

  private expectSym(v: string, what: string): void {
    if (!this.isSym(v)) throw new ParseFailure(this.tok.pos, `expected ${what} but found ${describe(this.tok)}`);
    this.take();
  }

  private enter(pos: Position): void {
    if (++this.depth > this.limits.maxNesting) throw new ParseFailure(pos, `nesting deeper than ${this.limits.maxNesting}`);
  }

  commands(topLevel: boolean): CommandNode[] {
    const out: CommandNode[] = [];
    for (;;) {
      if (this.tok.t === 'eof') {
        if (!topLevel) throw new ParseFailure(this.tok.pos, "expected '}' but found end of script");
        return out;
      }
      if (this.isSym('}')) {
        if (topLevel) throw new ParseFailure(this.tok.pos, "unexpected '}'");
        return out;
      }
      out.push(this.command());
    }
  }

  private command(): CommandNode {
    const t = this.tok;
    if (t.t !== 'id') throw new ParseFailure(t.pos, `expected a command but found ${describe(t)}`);
    this.take();
    const { args, tests } = this.arguments();
    let block: CommandNode[] | null = null;
    if (this.isSym('{')) {
      this.enter(this.tok.pos);
      this.take();
      block = this.commands(false);
      this.expectSym('}', "'}'");
      this.depth--;
    } else if (this.isSym(';')) this.take();
    else throw new ParseFailure(this.prevEnd, `expected ';' after command '${t.v}' but found ${describe(this.tok)}`);
    return { name: t.v, args, tests, block, pos: t.pos };
  }

  private arguments(): { args: Argument[]; tests: TestNode[] } {
    const args: Argument[] = [];
    for (;;) {
      const t = this.tok;
      if (t.t === 'str') {
        this.take();
        args.push({ kind: 'string', value: t.v, pos: t.pos });
      } else if (t.t === 'num') {
        this.take();
        args.push({ kind: 'number', value: t.v, pos: t.pos });
      } else if (t.t === 'tag') {
        this.take();
        args.push({ kind: 'tag', name: t.v, pos: t.pos });
      } else if (this.isSym('[')) args.push(this.stringList());
      else break;
    }
    const tests: TestNode[] = [];
    if (this.tok.t === 'id') tests.push(this.test());
    else if (this.isSym('(')) tests.push(...this.testList());
    return { args, tests };
  }

  private stringList(): Argument {
    const pos = this.tok.pos;
    this.take();
    const values: string[] = [];
    for (;;) {
      const t = this.tok;
      if (t.t !== 'str') throw new ParseFailure(t.pos, `expected a string in the string list but found ${describe(t)}`);
      this.take();
      if (values.length >= this.limits.maxStringList) throw new ParseFailure(t.pos, `string list longer than ${this.limits.maxStringList}`);
      values.push(t.v);
      if (this.isSym(']')) {
        this.take();
        return { kind: 'list', values, pos };
      }
      this.expectSym(',', "',' or ']' in the string list");
    }
  }

  private testList(): TestNode[] {
    this.enter(this.tok.pos);
    this.take();
    const tests: TestNode[] = [];
    for (;;) {
      if (tests.length >= this.limits.maxStringList) throw new ParseFailure(this.tok.pos, `test list longer than ${this.limits.maxStringList}`);
      tests.push(this.test());
      if (this.isSym(')')) {
        this.take();
        this.depth--;
        return tests;
      }
      this.expectSym(',', "',' or ')' in the test list");
    }
  }

  private test(): TestNode {
    const t = this.tok;
    if (t.t !== 'id') throw new ParseFailure(t.pos, `expected a test but found ${describe(t)}`);
    this.take();
    this.enter(t.pos);
    const { args, tests } = this.arguments();
    this.depth--;
    return { name: t.v, args, tests, pos: t.pos };
  }
}

function describe(t: Token): string {
  switch (t.t) {
    case 'eof':
      return 'end of script';
    case 'id':
      return `identifier '${t.v}'`;
    case 'tag':
      return `tag ':${t.v}'`;
    case 'num':
      return 'number';
    case 'str':
      return 'string';
    case 'sym':
      return `'${t.v}'`;
  }
}

/** Result of parsing: the command list, or the first syntax error with its position. */
export type ParseResult = { ok: true; commands: CommandNode[] } | { ok: false; errors: SieveError[] };

/** Parses a script into its syntax tree (no extension checks; see validate.ts). */
export function parseCommands(text: string, limits: SieveLimits): ParseResult {
  if (Buffer.byteLength(text, 'utf8') > limits.maxScriptBytes)
    return { ok: false, errors: [{ line: 1, column: 1, message: `script larger than ${limits.maxScriptBytes} bytes` }] };
  try {
    const p = new Parser(new Lexer(text), limits);
    return { ok: true, commands: p.commands(true) };
  } catch (e) {
    if (e instanceof ParseFailure) return { ok: false, errors: [{ ...e.pos, message: e.message }] };
    throw e;
  }
}
