/**
 * BODY and BODYSTRUCTURE encoding (RFC 9051 §7.5.2, formal syntax §9) from
 * the analysed part tree, laid out exactly like Dovecot 2.3 so clients see
 * the same structure from both servers: type strings keep their case,
 * text parts without a charset get ("charset" "us-ascii"), a multipart
 * without parts gets one empty text/plain part, sizes are body octets and
 * line counts are LF counts of the body.
 */
import { encodeList } from '../syntax/imap-string.js';
import { instr, istr, nolf } from './imap-text.js';
import type { MimeParam } from './mime-params.js';
import { parsePartFields, type PartFields } from './part-fields.js';

interface NodeCommon {
  fields: PartFields;
  /** Beyond the nesting or part limits: reported as application/octet-stream. */
  opaque: boolean;
  /** Body octets. */
  size: number;
  /** LF count of the body. */
  lines: number;
}

/** What the encoder needs to know about one part ('basic' covers text and every other leaf). */
export type StructNode =
  | (NodeCommon & { kind: 'basic' })
  | (NodeCommon & { kind: 'multipart'; children: StructNode[] })
  | (NodeCommon & { kind: 'message'; child: StructNode; envelope: Buffer });

const NIL = Buffer.from('NIL');
const num = (n: number): Buffer => Buffer.from(String(n));
const isAscii = (b: Buffer, lower: string): boolean => b.toString('latin1').toLowerCase() === lower;

/** The media type as BODYSTRUCTURE reports it, and whether it carries a line count. */
export function reportedType(kind: StructNode['kind'], f: PartFields, opaque: boolean): { type: Buffer | string; subtype: Buffer | string; text: boolean } {
  if (kind === 'message') return { type: 'message', subtype: f.typeKey === 'message/global' ? 'global' : 'rfc822', text: false };
  if (opaque) return { type: 'application', subtype: 'octet-stream', text: false };
  if (f.type === null) return { type: 'text', subtype: 'plain', text: true };
  // "multipart" that did not parse as one: never claim a structure we do not have
  if (isAscii(f.type, 'multipart')) return { type: 'application', subtype: 'octet-stream', text: false };
  return { type: f.type, subtype: f.subtype ?? '', text: isAscii(f.type, 'text') };
}

/** body-fld-param; text parts without a charset get the RFC 2045 §5.2 default. */
function params(list: readonly MimeParam[], defaultCharset: boolean): Buffer {
  const items = list.flatMap((p) => [istr(p.name), istr(p.value)]);
  if (defaultCharset && !list.some((p) => isAscii(p.name, 'charset'))) items.push(istr('charset'), istr('us-ascii'));
  return items.length === 0 ? NIL : encodeList(items);
}

/** body-fld-dsp, body-fld-lang, body-fld-loc */
function extensionTail(f: PartFields): Buffer[] {
  return [
    f.disposition === null ? NIL : encodeList([istr(f.disposition), params(f.dispositionParams, false)]),
    f.language === null ? NIL : encodeList(f.language.map((l) => istr(l))),
    instr(f.location === null ? null : nolf(f.location)),
  ];
}

/** One body (RFC 9051 §9 "body"), parenthesised. */
function encodePart(node: StructNode, extended: boolean): Buffer {
  const f = node.fields;
  if (node.kind === 'multipart') {
    // Dovecot: a multipart without parts shows one empty text/plain part
    const kids = node.children.length > 0 ? node.children : [EMPTY_PART];
    const items = [Buffer.concat(kids.map((c) => encodePart(c, extended))), istr(f.subtype ?? '')];
    if (extended) items.push(params(f.params, false), ...extensionTail(f));
    return encodeList(items);
  }
  const t = reportedType(node.kind, f, node.opaque);
  const items = [
    istr(t.type),
    istr(t.subtype),
    params(f.params, t.text),
    instr(f.id === null ? null : nolf(f.id)),
    instr(f.description === null ? null : nolf(f.description)),
    f.encoding === null ? istr('7bit') : istr(f.encoding),
    num(node.size),
  ];
  if (t.text) items.push(num(node.lines));
  else if (node.kind === 'message') items.push(node.envelope, encodePart(node.child, extended), num(node.lines));
  if (extended) items.push(instr(f.md5 === null ? null : nolf(f.md5)), ...extensionTail(f));
  return encodeList(items);
}

const EMPTY_PART: StructNode = { kind: 'basic', fields: parsePartFields([], false), opaque: false, size: 0, lines: 0 };

/** Encodes BODYSTRUCTURE (extended = true) or BODY (false) for a whole message. */
export function encodeBodyStructure(root: StructNode, extended: boolean): Buffer {
  return encodePart(root, extended);
}
