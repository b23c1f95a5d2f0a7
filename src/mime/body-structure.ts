/**
 * BODY and BODYSTRUCTURE encoding (RFC 9051 §7.5.2, formal syntax §9) from
 * the analysed part tree, laid out exactly like Dovecot 2.3 so clients see
 * the same structure from both servers: type strings keep their case,
 * text parts without a charset get ("charset" "us-ascii"), a multipart
 * without parts gets one empty text/plain part, sizes are body octets and
 * line counts are LF counts of the body.
 */
import type { MimeParam } from './mime-params.js';
import { instr, istr, nolf } from './imap-text.js';
import type { PartFields } from './part-fields.js';

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
const SP = Buffer.from(' ');
const EMPTY_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)';
const EMPTY_BODYSTRUCTURE = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)';

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

function params(list: readonly MimeParam[], defaultCharset: boolean): Buffer {
  const items: Buffer[] = [];
  for (const p of list) items.push(istr(p.name), istr(p.value));
  if (defaultCharset && !list.some((p) => isAscii(p.name, 'charset'))) items.push(istr('charset'), istr('us-ascii'));
  if (items.length === 0) return NIL;
  return Buffer.concat([Buffer.from('('), ...items.flatMap((b, i) => (i === 0 ? [b] : [SP, b])), Buffer.from(')')]);
}

/** body-fld-dsp SP body-fld-lang SP body-fld-loc */
function extensionTail(f: PartFields): Buffer[] {
  const dsp = f.disposition === null ? NIL : Buffer.concat([Buffer.from('('), istr(f.disposition), SP, params(f.dispositionParams, false), Buffer.from(')')]);
  const lang =
    f.language === null
      ? NIL
      : Buffer.concat([Buffer.from('('), ...f.language.flatMap((l, i) => (i === 0 ? [istr(l)] : [SP, istr(l)])), Buffer.from(')')]);
  return [SP, dsp, SP, lang, SP, instr(f.location === null ? null : nolf(f.location))];
}

function write(node: StructNode, extended: boolean, out: Buffer[]): void {
  const f = node.fields;
  if (node.kind === 'multipart') {
    if (node.children.length === 0) out.push(Buffer.from(extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY));
    for (const child of node.children) {
      out.push(Buffer.from('('));
      write(child, extended, out);
      out.push(Buffer.from(')'));
    }
    out.push(SP, istr(f.subtype ?? ''));
    if (extended) out.push(SP, params(f.params, false), ...extensionTail(f));
    return;
  }
  const t = reportedType(node.kind, f, node.opaque);
  out.push(istr(t.type), SP, istr(t.subtype), SP, params(f.params, t.text));
  out.push(SP, instr(f.id === null ? null : nolf(f.id)));
  out.push(SP, instr(f.description === null ? null : nolf(f.description)));
  out.push(SP, f.encoding === null ? istr('7bit') : istr(f.encoding));
  out.push(Buffer.from(` ${node.size}`));
  if (t.text) {
    out.push(Buffer.from(` ${node.lines}`));
  } else if (node.kind === 'message') {
    out.push(SP, node.envelope, Buffer.from(' ('));
    write(node.child, extended, out);
    out.push(Buffer.from(`) ${node.lines}`));
  }
  if (extended) out.push(SP, instr(f.md5 === null ? null : nolf(f.md5)), ...extensionTail(f));
}

/** Encodes BODYSTRUCTURE (extended = true) or BODY (false) for a whole message. */
export function encodeBodyStructure(root: StructNode, extended: boolean): Buffer {
  const out: Buffer[] = [Buffer.from('(')];
  write(root, extended, out);
  out.push(Buffer.from(')'));
  return Buffer.concat(out);
}
