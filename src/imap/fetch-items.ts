/**
 * FETCH data items (RFC 9051 §6.4.5, RFC 3501 §6.4.5, RFC 3516 BINARY,
 * RFC 8474 EMAILID/THREADID, RFC 8514 SAVEDATE, RFC 8970 PREVIEW):
 * parsing into a typed list, and locating the bytes a section names.
 */
import { sectionRange } from '../mime/section.js';
import type { PartIndex } from '../mime/types.js';
import type { ArgReader } from './wire/reader.js';
import { ParseError } from './wire/reader.js';

/** What a BODY[...] section names after the part path. */
export type SectionText = { kind: 'all' } | { kind: 'header' } | { kind: 'text' } | { kind: 'mime' } | { kind: 'fields'; not: boolean; names: string[] };

/** A parsed section: part path (possibly empty) and text specifier. */
export interface Section {
  path: number[];
  text: SectionText;
  /** The section as the client wrote it, echoed in the response (upper-cased keywords). */
  label: string;
}

/** One requested FETCH item. */
export type FetchItem =
  | { kind: 'flags' | 'uid' | 'internaldate' | 'size' | 'envelope' | 'body' | 'bodystructure' | 'modseq' }
  | { kind: 'emailid' | 'threadid' | 'savedate' | 'preview' }
  | { kind: 'section'; section: Section; peek: boolean; partial: [number, number] | null; name: 'BODY' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  | { kind: 'binary'; path: number[]; peek: boolean; partial: [number, number] | null }
  | { kind: 'binary-size'; path: number[] };

const SIMPLE: Record<string, FetchItem['kind']> = {
  FLAGS: 'flags',
  UID: 'uid',
  INTERNALDATE: 'internaldate',
  'RFC822.SIZE': 'size',
  ENVELOPE: 'envelope',
  BODY: 'body',
  BODYSTRUCTURE: 'bodystructure',
  EMAILID: 'emailid',
  THREADID: 'threadid',
  SAVEDATE: 'savedate',
  PREVIEW: 'preview',
};

const MACROS: Record<string, string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/** Bounds on header-list names in HEADER.FIELDS. */
const MAX_FIELD_NAMES = 256;

/**
 * Parses the FETCH attribute argument: a macro, one item, or a list of items.
 * After a bare PREVIEW its modifiers look like fetch-modifiers; FETCH tells them apart.
 */
export function parseFetchItems(r: ArgReader): FetchItem[] {
  if (r.peekByte() === 0x28) {
    const items: FetchItem[] = [];
    let modifiable = false;
    r.list(() => {
      // RFC 8970 §6: `PREVIEW SP "(" preview-mod ... ")"`; in a list only PREVIEW may be followed by "(".
      if (r.peekByte() === 0x28) {
        if (!modifiable) throw new ParseError('Unexpected list in FETCH items');
        parsePreviewModifiers(r);
        modifiable = false;
        return;
      }
      const item = parseItem(r, itemName(r));
      items.push(item);
      modifiable = item.kind === 'preview';
    }, false);
    return items;
  }
  const name = itemName(r);
  const macro = MACROS[name];
  if (macro) return macro.map((w) => ({ kind: SIMPLE[w]! }) as FetchItem);
  return [parseItem(r, name)];
}

function itemName(r: ArgReader): string {
  return r.atomUntil('[<').toUpperCase();
}

function parseItem(r: ArgReader, name: string): FetchItem {
  const simple = SIMPLE[name];
  if (simple && r.peekByte() !== 0x5b) return { kind: simple } as FetchItem;
  switch (name) {
    case 'MODSEQ':
      return { kind: 'modseq' };
    case 'RFC822':
      return { kind: 'section', section: { path: [], text: { kind: 'all' }, label: '' }, peek: false, partial: null, name: 'RFC822' };
    case 'RFC822.HEADER':
      return { kind: 'section', section: { path: [], text: { kind: 'header' }, label: 'HEADER' }, peek: true, partial: null, name: 'RFC822.HEADER' };
    case 'RFC822.TEXT':
      return { kind: 'section', section: { path: [], text: { kind: 'text' }, label: 'TEXT' }, peek: false, partial: null, name: 'RFC822.TEXT' };
    case 'BODY':
    case 'BODY.PEEK': {
      const section = parseSection(r);
      return { kind: 'section', section, peek: name === 'BODY.PEEK', partial: parsePartial(r), name: 'BODY' };
    }
    case 'BINARY':
    case 'BINARY.PEEK': {
      const path = parseBinaryPath(r);
      return { kind: 'binary', path, peek: name === 'BINARY.PEEK', partial: parsePartial(r) };
    }
    case 'BINARY.SIZE':
      return { kind: 'binary-size', path: parseBinaryPath(r) };
    default:
      throw new ParseError(`Unknown FETCH item ${name}`);
  }
}

/**
 * RFC 8970 §4.1: `"(" preview-mod *(SP preview-mod) ")"`. LAZY is the only
 * modifier; it changes nothing here, as every preview is computed at once.
 */
function parsePreviewModifiers(r: ArgReader): void {
  r.list(() => {
    if (r.atom().toUpperCase() !== 'LAZY') throw new ParseError('Unknown PREVIEW modifier');
  }, false);
}

/** `section` (RFC 9051 §9): "[" [section-spec] "]". */
export function parseSection(r: ArgReader): Section {
  r.expect('[');
  if (r.skip(']')) return { path: [], text: { kind: 'all' }, label: '' };
  const spec = r.atomUntil(']').toUpperCase();
  const parts = spec.split('.');
  const path: number[] = [];
  while (parts.length && isPartNumber(parts[0]!)) path.push(Number(parts.shift()));
  if (path.length > 64) throw new ParseError('Section path too deep');
  const rest = parts.join('.');
  let text: SectionText;
  let label = spec;
  switch (rest) {
    case '':
      if (path.length === 0) throw new ParseError('Invalid section');
      text = { kind: 'all' };
      break;
    case 'HEADER':
      text = { kind: 'header' };
      break;
    case 'TEXT':
      text = { kind: 'text' };
      break;
    case 'MIME':
      if (path.length === 0) throw new ParseError('MIME needs a part number');
      text = { kind: 'mime' };
      break;
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT': {
      r.sp();
      const names = r.list(() => r.astring().bytes.toString('latin1'), false);
      if (names.length > MAX_FIELD_NAMES) throw new ParseError('Too many header field names');
      for (const n of names) if (!/^[\x21-\x39\x3b-\x7e]+$/.test(n)) throw new ParseError('Invalid header field name');
      text = { kind: 'fields', not: rest.endsWith('.NOT'), names };
      label = `${spec} (${names.map((n) => n.toUpperCase()).join(' ')})`;
      break;
    }
    default:
      throw new ParseError('Invalid section');
  }
  r.expect(']');
  return { path, text, label };
}

/** `section-binary`: "[" [section-part] "]" (RFC 3516 §4.1). */
function parseBinaryPath(r: ArgReader): number[] {
  r.expect('[');
  if (r.skip(']')) return [];
  const spec = r.atomUntil(']');
  const parts = spec.split('.');
  if (parts.length > 64 || !parts.every(isPartNumber)) throw new ParseError('Invalid binary section');
  r.expect(']');
  return parts.map(Number);
}

/**
 * A `section-part` number: any nz-number up to 2^32-1 (RFC 9051 §9 nz-number is
 * a 32-bit number). One no message has is a missing part (an empty section,
 * RFC 9051 §6.4.5), not an error.
 */
function isPartNumber(text: string): boolean {
  return /^[1-9][0-9]{0,9}$/.test(text) && Number(text) <= 0xffffffff;
}

/** `partial`: "<" number "." nz-number ">". */
function parsePartial(r: ArgReader): [number, number] | null {
  if (!r.skip('<')) return null;
  const start = r.number();
  r.expect('.');
  const length = r.nzNumber();
  r.expect('>');
  return [start, length];
}

/** Byte range [start, end) a section names, or null when the part does not exist. */
export function sectionBytes(root: PartIndex, section: Section): { start: number; end: number; fields?: Extract<SectionText, { kind: 'fields' }> } | null {
  const t = section.text;
  const spec = t.kind === 'all' ? undefined : t.kind === 'mime' ? 'MIME' : t.kind === 'text' ? 'TEXT' : 'HEADER';
  const range = sectionRange(root, section.path, spec);
  if (!range) return null;
  return t.kind === 'fields' ? { ...range, fields: t } : range;
}

/**
 * The header fields named (or, with NOT, not named), raw and folded as stored,
 * followed by the blank line (RFC 9051 §6.4.5 HEADER.FIELDS).
 */
export function filterHeader(header: Buffer, names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const out: Buffer[] = [];
  let i = 0;
  let keep = false;
  while (i < header.length) {
    let eol = header.indexOf(0x0a, i);
    eol = eol < 0 ? header.length : eol + 1;
    const line = header.subarray(i, eol);
    i = eol;
    const isBlank = line.length <= 2 && (line[0] === 0x0d || line[0] === 0x0a);
    if (isBlank) break;
    const c = line[0];
    if (c !== 0x20 && c !== 0x09) {
      const colon = line.indexOf(0x3a);
      const name = colon > 0 ? line.subarray(0, colon).toString('latin1').trimEnd().toLowerCase() : null;
      keep = name !== null && wanted.has(name) !== not;
    }
    if (keep) out.push(line);
  }
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}
