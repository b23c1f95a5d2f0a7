/**
 * The Content-* fields of one MIME part (RFC 2045 §5–§8, RFC 2183, RFC 3066,
 * RFC 2557) as BODYSTRUCTURE reports them, read the way Dovecot 2.3 reads
 * them: the first Content-Type/-ID/-Description/-MD5/-Location wins, values
 * keep their case, and a message (top level or encapsulated) counts as MIME
 * when it has a MIME-Version or a Content-Type header — otherwise its
 * Content-* fields are ignored. Parts of a multipart are always MIME.
 */
import { ByteBuilder } from './byte-builder.js';
import { nameIs, type HeaderField } from './header-fields.js';
import { parseParams, type MimeParam } from './mime-params.js';
import { Rfc822Lexer } from './rfc822-lexer.js';

/** Longest boundary honoured; longer ones are cut, matching still works by prefix (RFC 2046 §5.1.1 allows 70). */
export const BOUNDARY_MAX = 80;
const MAX_PARAMS = 256;

/** Parsed Content-* data of a part. Buffers are independent copies. */
export interface PartFields {
  /** A multipart's part, or MIME-Version or Content-Type present (Dovecot's non-strict rule). */
  mime: boolean;
  /** A Content-Type header was present (even if unparseable). */
  typeSeen: boolean;
  /** Media type as written; null when there is no usable Content-Type. */
  type: Buffer | null;
  /** Subtype as written; null when missing. */
  subtype: Buffer | null;
  /** Lower-case "type/subtype" (or the recognisable prefix of it) for classification. */
  typeKey: string;
  params: MimeParam[];
  /** Content-Transfer-Encoding token as written, for BODYSTRUCTURE. */
  encoding: Buffer | null;
  /** Lower-case transfer encoding used to decode the body ('7bit' when absent): the last header's, independent of `mime`. */
  transferEncoding: string;
  id: Buffer | null;
  description: Buffer | null;
  md5: Buffer | null;
  location: Buffer | null;
  disposition: Buffer | null;
  dispositionParams: MimeParam[];
  language: Buffer[] | null;
  /** Multipart boundary (first "boundary" parameter), cut to BOUNDARY_MAX. */
  boundary: Buffer | null;
}

/** How the parser treats the part's body. */
export type PartKind = 'multipart' | 'message' | 'text' | 'other';

function emptyFields(): PartFields {
  return {
    mime: false,
    typeSeen: false,
    type: null,
    subtype: null,
    typeKey: '',
    params: [],
    encoding: null,
    transferEncoding: '7bit',
    id: null,
    description: null,
    md5: null,
    location: null,
    disposition: null,
    dispositionParams: [],
    language: null,
    boundary: null,
  };
}

/** RFC 2045 §6.1 mechanism token; `strict` also demands that nothing follows it (comments allowed). */
function parseEncoding(value: Buffer, strict: boolean): Buffer | null {
  const lex = new Rfc822Lexer(value);
  lex.skipLwsp();
  const out = new ByteBuilder();
  const ret = lex.mimeToken(out);
  if (out.length === 0) return null;
  return !strict || (ret >= 0 && lex.skipLwsp() === 0) ? out.toBuffer() : null;
}

function parseContentType(f: PartFields, value: Buffer): void {
  const lex = new Rfc822Lexer(value);
  lex.skipLwsp();
  const out = new ByteBuilder();
  const ret = lex.contentType(out);
  const full = out.toBuffer();
  const slash = full.indexOf(0x2f);
  f.type = slash < 0 ? full : full.subarray(0, slash);
  f.subtype = slash < 0 ? null : full.subarray(slash + 1);
  f.typeKey = full.toString('latin1').toLowerCase();
  if (ret < 0) return; // broken: keep what was recognisable, no parameters
  f.params = parseParams(lex, MAX_PARAMS);
  if (f.typeKey.startsWith('multipart/')) {
    const b = f.params.find((p) => nameIs(p.name, 'boundary'));
    if (b) f.boundary = b.value.subarray(0, BOUNDARY_MAX);
  }
}

function parseDisposition(f: PartFields, value: Buffer): void {
  const lex = new Rfc822Lexer(value);
  lex.skipLwsp();
  const out = new ByteBuilder();
  if (lex.mimeToken(out) < 0) return;
  f.disposition = out.toBuffer();
  f.dispositionParams = parseParams(lex, MAX_PARAMS);
}

/** RFC 3282: a comma-separated list of language tags (atoms). */
function parseLanguage(value: Buffer): Buffer[] | null {
  const lex = new Rfc822Lexer(value);
  lex.skipLwsp();
  const langs: Buffer[] = [];
  for (;;) {
    const out = new ByteBuilder();
    if (lex.atom(out) < 0) break;
    langs.push(out.toBuffer());
    if (lex.atEnd() || lex.peek() !== 0x2c || langs.length >= MAX_PARAMS) break;
    lex.pos++;
    lex.skipLwsp();
  }
  return langs.length > 0 ? langs : null;
}

/** Reads the Content-* fields of a part header; parts of a multipart are MIME by context (RFC 2046 §5.1). */
export function parsePartFields(fields: readonly HeaderField[], inMultipart: boolean): PartFields {
  const f = emptyFields();
  f.mime = inMultipart;
  for (const { name, value } of fields) {
    if (nameIs(name, 'mime-version')) {
      f.mime = true;
      continue;
    }
    if (name.length < 8 || !nameIs(name.subarray(0, 8), 'content-')) continue;
    const copy = (): Buffer => Buffer.from(value);
    if (nameIs(name, 'content-type')) {
      f.mime = true;
      if (!f.typeSeen) {
        f.typeSeen = true;
        parseContentType(f, value);
      }
    } else if (nameIs(name, 'content-transfer-encoding')) {
      if (f.encoding === null) f.encoding = parseEncoding(value, true);
      // decoding (FETCH BINARY) follows the last one, junk after the token ignored, as Dovecot does
      const token = parseEncoding(value, false);
      if (token !== null) f.transferEncoding = token.toString('latin1').toLowerCase();
    } else if (nameIs(name, 'content-id')) {
      f.id ??= copy();
    } else if (nameIs(name, 'content-description')) {
      f.description ??= copy();
    } else if (nameIs(name, 'content-md5')) {
      f.md5 ??= copy();
    } else if (nameIs(name, 'content-location')) {
      f.location ??= copy();
    } else if (nameIs(name, 'content-language')) {
      f.language ??= parseLanguage(value);
    } else if (nameIs(name, 'content-disposition')) {
      // Dovecot re-reads a later disposition while the first had no parameters
      if (f.dispositionParams.length === 0) parseDisposition(f, value);
    }
  }
  if (!f.mime) {
    // RFC 2045 §4: without MIME-Version the Content-* fields carry no meaning
    const reset = emptyFields();
    reset.transferEncoding = f.transferEncoding; // still honoured for BINARY, like Dovecot
    return reset;
  }
  return f;
}

/** Classifies a part (RFC 2046 §5.1.5: parts of multipart/digest default to message/rfc822). */
export function partKind(f: PartFields, parentIsDigest: boolean): PartKind {
  if (!f.typeSeen) return parentIsDigest ? 'message' : 'text';
  const t = f.typeKey;
  if (t === 'message/rfc822' || t === 'message/global') return 'message';
  if (t.startsWith('text') && (t.length === 4 || t[4] === '/')) return 'text';
  if (t.startsWith('multipart/')) return 'multipart';
  return 'other';
}
