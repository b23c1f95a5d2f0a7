/**
 * The message as a Sieve script sees it: header fields (decoded for
 * comparison, RFC 5228 §2.7.2: MIME encoded words decoded, unfolded,
 * leading and trailing white space removed), addresses, the body for the
 * body test (RFC 5173) and the size. editheader (RFC 5293) changes the
 * header view that later tests and actions see; unchanged fields keep their
 * bytes exactly and the body is never copied.
 */
import { parseAddressList } from '../mime/address.js';
import { analyzeMessage, decodeCharset, decodeHeaderValue, decodeTransferEncoding, type PartIndex } from '../mime/index.js';
import { htmlToText } from './html-text.js';
import type { SieveLimits } from './limits.js';
import { SieveRuntimeError } from './match.js';

/** One header field: its raw bytes as stored (or as added), name and raw value. */
interface Field {
  lname: string;
  name: string;
  raw: Buffer;
  value: Buffer;
  /** The decoded value, computed on first use: a script may test one field many times. */
  decoded?: string;
  /** The addresses of the value (SieveMessage.addresses), parsed on first use, as `decoded`. */
  addresses?: MailAddress[];
}

/** The envelope of this delivery (RFC 5228 §5.4): the return path ("" for <>) and the recipient. */
export interface SieveEnvelope {
  from: string;
  to: string;
}

/** One mailbox of an address header, as local part and domain; `valid` false for a header that is no address list (then `local` is its whole text). */
export interface MailAddress {
  local: string;
  domain: string;
  valid: boolean;
}

// what parseAddressList writes where an address is broken (mime/address.ts)
const BROKEN = new Set(['MISSING_MAILBOX', 'MISSING_DOMAIN', 'SYNTAX_ERROR', 'INVALID_ROUTE']);

const FIELD_NAME = /^[!-9;-~]+$/;

/** Splits a header block into field blocks with their exact bytes (continuation lines included). */
function splitFields(header: Buffer, max: number): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < header.length && out.length < max) {
    let end = pos;
    do {
      const lf = header.indexOf(0x0a, end);
      end = lf < 0 ? header.length : lf + 1;
    } while (end < header.length && (header[end] === 0x20 || header[end] === 0x09));
    const raw = header.subarray(pos, end);
    pos = end;
    const colon = raw.indexOf(0x3a);
    if (colon <= 0) continue;
    const name = raw.subarray(0, colon).toString('latin1').trimEnd();
    let v = colon + 1;
    while (raw[v] === 0x20 || raw[v] === 0x09) v++;
    out.push({ lname: name.toLowerCase(), name, raw, value: raw.subarray(v) });
  }
  return out;
}

/** The decoded, unfolded, trimmed text of a raw header value. */
function decodeValue(value: Buffer): string {
  return decodeHeaderValue(value).replace(/\r?\n/g, '').trim();
}

/**
 * A value as header text (RFC 5293 §4): ASCII folded at spaces to keep lines
 * short (RFC 5322 §2.2.3); other text as UTF-8 "B" encoded words of at most
 * 75 characters each (RFC 2047 §2), one per folded line.
 */
function encodeValue(name: string, value: string): string {
  const lines: string[] = [];
  if (/^[\x20-\x7e\t]*$/.test(value)) {
    let line = '';
    let room = 76 - name.length - 2;
    for (const word of value.split(' ')) {
      if (line !== '' && line.length + 1 + word.length > room) {
        lines.push(line);
        line = word;
        room = 76;
      } else line = line === '' ? word : `${line} ${word}`;
    }
    lines.push(line);
    return lines.join('\r\n ');
  }
  let chunk: string[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (chunk.length > 0) lines.push(`=?UTF-8?B?${Buffer.from(chunk.join(''), 'utf8').toString('base64')}?=`);
    chunk = [];
    bytes = 0;
  };
  for (const ch of value) {
    const n = Buffer.byteLength(ch, 'utf8');
    // 39 octets are 52 base64 characters: with "=?UTF-8?B?" and "?=" a word is 64, a line with a short name under 78
    if (bytes + n > 39) flush();
    chunk.push(ch);
    bytes += n;
  }
  flush();
  return lines.join('\r\n ');
}

/**
 * What the views of one message start from, shared by the runs on the same bytes (the recipients of
 * one delivery): the fields, whose decoded values and addresses are computed once, and the body texts.
 * Shared objects are never changed by a view (editheader makes a new field list), only filled in.
 */
interface Parsed {
  /**
   * The limits it was made under; a run under others parses anew (fieldAddresses caches under
   * maxStringList; the test outcomes depend on the match limits too).
   */
  limits: ParsedLimits;
  fields: Field[];
  body: Buffer;
  bodyCache: Map<string, string[]>;
  outcomes: TestOutcomes;
}

type ParsedLimits = Pick<SieveLimits, 'maxHeaderFields' | 'maxBodyBytes' | 'maxStringList' | 'maxMatchSubject' | 'maxRegexPattern'>;

/** What evaluating a message-pure test gave: its result, the steps it cost and the match variables it set (RFC 5229 §3.2). */
export interface TestOutcome {
  result: boolean;
  steps: number;
  groups?: string[];
}

/** Test outcomes kept per message at most, and the characters of match variables they may hold. */
const MAX_OUTCOMES = 1024;
const MAX_OUTCOME_CHARS = 1 << 20;

/**
 * The outcomes of the message-pure tests of the runs on one message, by test node (the compiled-script
 * cache gives recipients with the same script text the same nodes). Bounded: once full, nothing is added.
 */
export class TestOutcomes {
  private readonly byTest = new Map<object, TestOutcome>();
  private chars = 0;
  /** Outcomes read instead of evaluated (tests and the bench look at it). */
  hits = 0;

  get(test: object): TestOutcome | undefined {
    const known = this.byTest.get(test);
    if (known !== undefined) this.hits++;
    return known;
  }

  set(test: object, outcome: TestOutcome): void {
    const chars = outcome.groups?.reduce((n, g) => n + g.length, 0) ?? 0;
    if (this.byTest.size >= MAX_OUTCOMES || this.chars + chars > MAX_OUTCOME_CHARS) return;
    this.chars += chars;
    this.byTest.set(test, outcome);
  }

  get size(): number {
    return this.byTest.size;
  }
}

/** Parsed messages by their bytes, as long as those are alive. */
const parsedMessages = new WeakMap<Buffer, Parsed>();

/** The parsed form of a message under these limits, made once per bytes. */
function parsedMessage(bytes: Buffer, limits: SieveLimits): Parsed {
  const known = parsedMessages.get(bytes);
  const { maxHeaderFields, maxBodyBytes, maxStringList, maxMatchSubject, maxRegexPattern } = limits;
  const key: ParsedLimits = { maxHeaderFields, maxBodyBytes, maxStringList, maxMatchSubject, maxRegexPattern };
  if (known !== undefined && (Object.keys(key) as Array<keyof ParsedLimits>).every((k) => known.limits[k] === key[k])) return known;
  const parsed = { limits: key, ...splitMessage(bytes, limits), bodyCache: new Map<string, string[]>(), outcomes: new TestOutcomes() };
  parsedMessages.set(bytes, parsed);
  return parsed;
}

/** The header fields and the body of a message. */
function splitMessage(bytes: Buffer, limits: SieveLimits): { fields: Field[]; body: Buffer } {
  // a message that starts with the blank line has an empty header
  const blankFirst = bytes[0] === 0x0a ? 1 : bytes[0] === 0x0d && bytes[1] === 0x0a ? 2 : 0;
  let split = blankFirst > 0 ? -1 : bytes.indexOf('\r\n\r\n');
  let sep = 4;
  // only a bare-LF blank line before the first CRLF one counts: search no further (a body can be megabytes)
  const lf = blankFirst > 0 ? -1 : bytes.subarray(0, split < 0 ? bytes.length : split + 2).indexOf('\n\n');
  if (lf >= 0 && (split < 0 || lf < split)) {
    split = lf;
    sep = 2;
  }
  const headerEnd = blankFirst > 0 ? 0 : split < 0 ? bytes.length : split + sep - (sep === 4 ? 2 : 1);
  const fields = splitFields(bytes.subarray(0, headerEnd), limits.maxHeaderFields);
  return { fields, body: blankFirst > 0 ? bytes.subarray(blankFirst) : split < 0 ? Buffer.alloc(0) : bytes.subarray(split + sep) };
}

/** The message view a run reads and editheader changes. */
export class SieveMessage {
  private fields: Field[];
  private readonly body: Buffer;
  private parts: PartIndex | null = null;
  /** Body texts by transform: several rules often test the same body (shared with other runs on the message). */
  private readonly bodyCache: Map<string, string[]>;
  private readonly outcomes: TestOutcomes;
  /** True once editheader changed the header. */
  edited = false;

  constructor(
    private readonly bytes: Buffer,
    private readonly limits: SieveLimits,
    parts?: PartIndex,
  ) {
    this.parts = parts ?? null;
    const parsed = parsedMessage(bytes, limits);
    this.fields = parsed.fields;
    this.body = parsed.body;
    this.bodyCache = parsed.bodyCache;
    this.outcomes = parsed.outcomes;
  }

  /**
   * The test outcomes shared by the runs on these bytes, or null once this view was edited
   * (RFC 5293: later tests see the edited header, which no other run does).
   */
  sharedOutcomes(): TestOutcomes | null {
    return this.edited ? null : this.outcomes;
  }

  /** The message size in octets (RFC 5228 §5.9), before any header edit. */
  get size(): number {
    return this.bytes.length;
  }

  /** Decoded values of every field with this name, in order. */
  values(name: string): string[] {
    const l = name.toLowerCase();
    return this.fields.filter((f) => f.lname === l).map((f) => (f.decoded ??= decodeValue(f.value)));
  }

  /** Raw (undecoded) values of every field with this name, for address parsing. */
  rawValues(name: string): Buffer[] {
    const l = name.toLowerCase();
    return this.fields.filter((f) => f.lname === l).map((f) => f.value);
  }

  /** The addresses of every field with this name, one list per field (at most `max` per field). */
  fieldAddresses(name: string, max: number): MailAddress[][] {
    const l = name.toLowerCase();
    return this.fields.filter((f) => f.lname === l).map((f) => (f.addresses ??= SieveMessage.addresses(f.value, max)));
  }

  /**
   * Addresses of one raw header value; group markers and empty groups give
   * nothing. A value that is not a valid address list is one invalid
   * address holding the whole text: RFC 5228 §2.7.4 lets only :all match it.
   */
  static addresses(raw: Buffer, max: number): MailAddress[] {
    const list = parseAddressList(raw, max);
    const broken = list.some((a) => [a.mailbox, a.domain, a.route].some((b) => b !== null && BROKEN.has(b.toString('latin1'))));
    if (broken) return [{ local: decodeValue(raw), domain: '', valid: false }];
    return list
      .filter((a) => a.mailbox !== null && a.domain !== null)
      .map((a) => ({ local: (a.mailbox as Buffer).toString('utf8'), domain: (a.domain as Buffer).toString('utf8'), valid: true }));
  }

  /** RFC 5293 §4 addheader: at the top, or at the end with :last. */
  addHeader(name: string, value: string, last: boolean): void {
    if (this.fields.length >= this.limits.maxHeaderFields)
      throw new SieveRuntimeError(`addheader: the header already has ${this.limits.maxHeaderFields} fields`);
    const raw = Buffer.from(`${name}: ${encodeValue(name, value)}\r\n`, 'utf8');
    const f: Field = { lname: name.toLowerCase(), name, raw, value: raw.subarray(name.length + 2, raw.length - 2) };
    this.fields = last ? [...this.fields, f] : [f, ...this.fields];
    this.edited = true;
  }

  /** RFC 5293 §5 deleteheader: removes the fields with this name the predicate selects (by 1-based occurrence and decoded value). */
  deleteHeader(name: string, select: (occurrence: number, count: number, value: string) => boolean): void {
    const l = name.toLowerCase();
    const count = this.fields.filter((f) => f.lname === l).length;
    let n = 0;
    const kept = this.fields.filter((f) => f.lname !== l || !select(++n, count, (f.decoded ??= decodeValue(f.value))));
    if (kept.length !== this.fields.length) this.edited = true;
    this.fields = kept;
  }

  /** The current header block (with the blank line that ends it), for actions taken after an edit. */
  headerBytes(): Buffer {
    return Buffer.concat([...this.fields.map((f) => f.raw), Buffer.from('\r\n')]);
  }

  /** RFC 5173 :raw: the undecoded body. */
  rawBody(): string {
    return this.cached('raw', () => [this.body.subarray(0, this.limits.maxBodyBytes).toString('utf8')])[0] as string;
  }

  /**
   * RFC 5173 §5.2 :content: the parts whose type matches one of `types`
   * ("" every type, "text" every text/* part, "text/plain" exactly; a type
   * with a leading, trailing or second "/" matches nothing). The search
   * descends into multipart and message/rfc822 parts; a matching multipart
   * contributes its prologue and epilogue, a matching message/rfc822 the
   * header of the nested message, any other part its decoded content.
   */
  contentParts(types: readonly string[]): string[] {
    return this.cached(`content\0${types.join('\0')}`, () => this.collect(types).map((p) => p.text));
  }

  private cached(key: string, make: () => string[]): string[] {
    let v = this.bodyCache.get(key);
    if (v === undefined) {
      v = make();
      // a script names few distinct transforms; the cap only guards against variable-made ones
      if (this.bodyCache.size < 16) this.bodyCache.set(key, v);
    }
    return v;
  }

  /** The matching parts' text with their media type (see contentParts). */
  private collect(types: readonly string[]): Array<{ subtype: string; text: string }> {
    if (this.parts === null) this.parts = analyzeMessage(this.bytes).root;
    const want = types.map((t) => t.toLowerCase()).filter((t) => !t.startsWith('/') && !t.endsWith('/') && t.split('/').length <= 2);
    const matches = (p: PartIndex): boolean => want.some((w) => w === '' || w === p.type || w === `${p.type}/${p.subtype}`);
    const out: Array<{ subtype: string; text: string }> = [];
    let budget = this.limits.maxBodyBytes;
    const take = (from: number, to: number): Buffer => {
      const b = this.bytes.subarray(from, Math.max(from, Math.min(to, from + budget)));
      budget -= b.length;
      return b;
    };
    const visit = (p: PartIndex): void => {
      if (budget <= 0) return;
      const children = p.parts ?? [];
      if (p.type === 'multipart') {
        if (matches(p)) out.push(...this.prologueEpilogue(p, children).map(([a, b]) => ({ subtype: p.subtype, text: take(a, b).toString('utf8') })));
        for (const c of children) visit(c);
      } else if (p.type === 'message' && p.subtype === 'rfc822' && children.length === 1) {
        const inner = children[0] as PartIndex;
        if (matches(p)) out.push({ subtype: p.subtype, text: take(inner.hs, inner.bs).toString('utf8') });
        visit(inner);
      } else if (matches(p)) {
        const raw = take(p.bs, p.be);
        const decoded = decodeTransferEncoding(p.encoding, raw) ?? raw;
        out.push({ subtype: p.subtype, text: p.type === 'text' ? decodeCharset(decoded, p.charset) : decoded.toString('latin1') });
      }
    };
    visit(this.parts);
    return out;
  }

  /** Byte ranges of a multipart's prologue (before the first delimiter line) and epilogue (after the close delimiter line), RFC 2046 §5.1.1. */
  private prologueEpilogue(p: PartIndex, children: readonly PartIndex[]): Array<[number, number]> {
    const first = children[0];
    const last = children[children.length - 1];
    if (first === undefined || last === undefined) return [[p.bs, p.be]];
    // the first delimiter line starts at the last line start before the first child's header
    // the first delimiter line; the CRLF before it belongs to the delimiter (RFC 2046 §5.1.1)
    const nl = this.bytes.lastIndexOf('\n--', first.hs - 1);
    const prologueEnd = nl < p.bs ? p.bs : this.bytes[nl - 1] === 0x0d && nl - 1 >= p.bs ? nl - 1 : nl;
    const closeAt = this.bytes.indexOf('--', last.be);
    const closeEnd = closeAt < 0 || closeAt >= p.be ? p.be : this.bytes.indexOf('\n', closeAt);
    return [
      [p.bs, prologueEnd],
      [closeEnd < 0 || closeEnd >= p.be ? p.be : closeEnd + 1, p.be],
    ];
  }

  /** RFC 5173 §5.3 :text: the text of the text/* parts, HTML reduced to what a reader sees. */
  textParts(): string[] {
    return this.cached('text', () => this.collect(['text']).map((p) => (p.subtype === 'html' ? htmlToText(p.text) : p.text)));
  }

  /** Is this a field name editheader may use (RFC 5322 §3.6.8 ftext)? */
  static validFieldName(name: string): boolean {
    return FIELD_NAME.test(name);
  }
}
