/**
 * RFC 5322 §3.4 address lists for ENVELOPE, with the recovery rules Dovecot
 * 2.3 uses so broken headers give the same result: a missing local part or
 * domain becomes MISSING_MAILBOX / MISSING_DOMAIN, a bad angle address gets
 * the domain SYNTAX_ERROR, a bare phrase becomes a display name, and a
 * comment after an addr-spec serves as display name. Groups are reported as
 * a start marker (NIL NIL "name" NIL) and an end marker (NIL NIL NIL NIL),
 * RFC 9051 §7.5.2.
 */
import { encodeList } from '../syntax/imap-string.js';
import { ByteBuilder } from './byte-builder.js';
import { forHumans, instr } from './imap-text.js';
import { Rfc822Lexer } from './rfc822-lexer.js';

/** One ENVELOPE address structure (or group marker). */
export interface Address {
  name: Buffer | null;
  route: Buffer | null;
  mailbox: Buffer | null;
  domain: Buffer | null;
}

const MISSING_MAILBOX = Buffer.from('MISSING_MAILBOX');
const MISSING_DOMAIN = Buffer.from('MISSING_DOMAIN');
const SYNTAX_ERROR = Buffer.from('SYNTAX_ERROR');
const INVALID_ROUTE = Buffer.from('INVALID_ROUTE');

const blank = (): Address => ({ name: null, route: null, mailbox: null, domain: null });

class AddressParser {
  readonly list: Address[] = [];
  private cur = blank();

  constructor(
    private readonly lex: Rfc822Lexer,
    private readonly max: number,
  ) {}

  private add(): void {
    if (this.list.length < this.max) this.list.push(this.cur);
    this.cur = blank();
  }

  private addFixed(): void {
    this.cur.mailbox ??= MISSING_MAILBOX;
    if (this.cur.domain === null || this.cur.domain.length === 0) this.cur.domain = MISSING_DOMAIN;
    this.add();
  }

  private localPart(out: ByteBuilder): number {
    const ret = this.lex.peek() === 0x22 ? this.lex.quotedString(out) : this.lex.dotAtom(out);
    if (ret < 0) return -1;
    this.cur.mailbox = out.toBuffer();
    return ret;
  }

  private domain(): number {
    const out = new ByteBuilder();
    const ret = this.lex.domain(out);
    if (ret < 0) return -1;
    this.cur.domain = out.toBuffer();
    return ret;
  }

  /** obs-route: "@a,@b" */
  private route(): number {
    const out = new ByteBuilder();
    for (;;) {
      if (this.lex.atEnd()) return 0;
      if (this.lex.peek() !== 0x40) break;
      if (out.length > 0) out.appendByte(0x2c);
      out.appendByte(0x40);
      const ret = this.lex.domain(out);
      if (ret <= 0) return ret;
      while (this.lex.skipLwsp() > 0 && this.lex.peek() === 0x2c) this.lex.pos++;
    }
    this.cur.route = out.toBuffer();
    return 1;
  }

  private angleAddr(): number {
    const lex = this.lex;
    lex.pos++;
    if (lex.skipLwsp() <= 0) return -1;
    if (lex.peek() === 0x40) {
      if (this.route() > 0 && lex.peek() === 0x3a) lex.pos++;
      else {
        this.cur.route = INVALID_ROUTE;
        if (lex.atEnd()) return -1;
      }
      if (lex.skipLwsp() <= 0) return -1;
    }
    if (lex.peek() !== 0x3e) {
      if (this.localPart(new ByteBuilder()) <= 0) return -1;
      if (lex.peek() === 0x40 && this.domain() <= 0) return -1;
    }
    if (lex.peek() !== 0x3e) return -1;
    lex.pos++;
    return lex.skipLwsp();
  }

  private nameAddr(): number {
    const out = new ByteBuilder();
    if (this.lex.phrase(out) <= 0 || this.lex.peek() !== 0x3c) return -1;
    this.cur.name = out.length > 0 ? out.toBuffer() : null;
    if (this.angleAddr() < 0) this.cur.domain = SYNTAX_ERROR;
    return this.lex.atEnd() ? 0 : 1;
  }

  private addrSpec(): number {
    const lex = this.lex;
    lex.lastComment?.truncate(0);
    const quoted = lex.peek() === 0x22;
    const local = new ByteBuilder();
    let ret = this.localPart(local);
    let domainRet = -2;
    if (ret !== 0 && !lex.atEnd() && lex.peek() === 0x40) {
      domainRet = this.domain();
      if (domainRet <= 0) ret = domainRet;
    }
    const comment = lex.lastComment;
    if (comment !== null && comment.length > 0) {
      this.cur.name = comment.toBuffer();
    } else if (domainRet === -2) {
      // "user" alone is a mailbox, "some words" is a display name
      local.appendByte(0x20);
      const before = local.length;
      lex.phrase(local);
      if (local.length !== before) {
        this.cur.mailbox = null;
        this.cur.name = local.toBuffer();
      } else if (!quoted) {
        this.cur.domain = Buffer.alloc(0);
      }
      ret = -1;
    }
    return ret;
  }

  private mailbox(): number {
    const start = this.lex.pos;
    let ret = this.nameAddr();
    if (ret < 0) {
      this.lex.pos = start;
      ret = this.addrSpec();
    }
    this.addFixed();
    return ret;
  }

  private group(): number {
    const lex = this.lex;
    const out = new ByteBuilder();
    if (lex.phrase(out) <= 0 || lex.peek() !== 0x3a) return -1;
    lex.pos++;
    let ret = lex.skipLwsp();
    this.cur.mailbox = out.toBuffer();
    this.add();
    if (ret > 0 && lex.peek() !== 0x3b) {
      for (;;) {
        this.mailbox(); // a broken member does not end the group
        if (lex.atEnd() || lex.peek() !== 0x2c) break;
        lex.pos++;
        if (lex.skipLwsp() <= 0) {
          ret = -1;
          break;
        }
      }
    }
    if (ret >= 0) {
      if (lex.atEnd() || lex.peek() !== 0x3b) ret = -1;
      else {
        lex.pos++;
        ret = lex.skipLwsp();
      }
    }
    this.add();
    return ret === 0 ? 0 : 1;
  }

  private address(): number {
    const start = this.lex.pos;
    const ret = this.group();
    if (ret >= 0) return ret;
    this.lex.pos = start;
    return this.mailbox();
  }

  parseList(): void {
    while (this.list.length < this.max) {
      if (this.address() === 0) break;
      if (this.lex.atEnd() || this.lex.peek() !== 0x2c) break;
      this.lex.pos++;
      const ret = this.lex.skipLwsp();
      if (ret <= 0) {
        if (ret < 0) this.addFixed(); // ends with garbage
        break;
      }
    }
  }
}

/** Parses an address-list header value; empty when it holds no address. */
export function parseAddressList(value: Buffer, max: number): Address[] {
  const lex = new Rfc822Lexer(value, true);
  if (lex.skipLwsp() <= 0) return [];
  const p = new AddressParser(lex, max);
  p.parseList();
  return p.list;
}

/** ENVELOPE address list: NIL when empty (RFC 9051 §7.5.2). */
export function encodeAddressList(list: readonly Address[]): Buffer {
  if (list.length === 0) return Buffer.from('NIL');
  const entries = list.map((a) => encodeList([a.name === null ? instr(null) : instr(forHumans(a.name)), instr(a.route), instr(a.mailbox), instr(a.domain)]));
  return Buffer.concat([Buffer.from('('), ...entries, Buffer.from(')')]);
}
