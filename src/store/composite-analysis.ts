/**
 * The analysis of a composite blob (BlobStore.putComposite), derived from the
 * base message's own analysis instead of parsing the composed bytes again.
 * Two kinds of composite are made (mail/deliver.ts):
 *
 * - Header lines `prefix` put in front of the whole base (baseFrom 0, LMTP's
 *   Return-Path/Delivered-To). Header lines at the top change no MIME
 *   structure: every part's offsets move by the prefix's length, the root
 *   header now starts with the prefix, and the prefix's fields come first in
 *   the decoded header list. ENVELOPE, BODY, BODYSTRUCTURE, the Date and the
 *   body text stay as they are, because the prefix carries none of the fields
 *   they are built from (Return-Path and Delivered-To only).
 *   Precondition (composablePrefix): the base does not start with white
 *   space, which would continue the prefix's last field (RFC 5322 §2.2.3).
 *   Header caps (MessageAnalyzer limits) apply to the base alone, so a base
 *   already at its header-text cap keeps all of it plus the prefix's fields.
 * - A whole new header block (blank line included) in place of the base's
 *   (baseFrom = the base's body start; Sieve editheader, RFC 5293). The body
 *   and its parts move by prefix.length − baseFrom; ENVELOPE, the Date and
 *   the decoded fields are the new header's. Precondition
 *   (sameStructureFields): the new header has the base's Content-* and
 *   MIME-Version fields, so the root's type, and with it BODY, BODYSTRUCTURE,
 *   the part tree and the body text, are the base's.
 */
import { analyzeMessage } from '../mime/analyze.js';
import { parseHeaderFields } from '../mime/header-fields.js';
import type { MessageAnalysis, PartIndex } from '../mime/types.js';

/** Whether a prefix may be put before a message starting with `firstByte` (undefined: empty) without changing its header. */
export function composablePrefix(firstByte: number | undefined): boolean {
  return firstByte !== 0x20 && firstByte !== 0x09;
}

/** The raw fields a message's MIME structure is read from (RFC 2045 §3-§4, RFC 2183): names lower-cased, values as written. */
function structureFields(header: Buffer): string[] {
  return parseHeaderFields(header, Number.MAX_SAFE_INTEGER)
    .map((f) => [f.name.toString('latin1').toLowerCase(), f.value.toString('latin1')])
    .filter(([name]) => name?.startsWith('content-') || name === 'mime-version')
    .map(([name, value]) => `${name}:${value}`);
}

/** Whether two header blocks give a message the same MIME structure (the second kind's precondition above). */
export function sameStructureFields(a: Buffer, b: Buffer): boolean {
  const x = structureFields(a);
  const y = structureFields(b);
  return x.length === y.length && x.every((f, i) => f === y[i]);
}

function shift(part: PartIndex, by: number): PartIndex {
  const out: PartIndex = { ...part, hs: part.hs + by, bs: part.bs + by, be: part.be + by };
  if (part.parts) out.parts = part.parts.map((p) => shift(p, by));
  return out;
}

/** The analysis of `prefix` followed by the message `base` describes from `baseFrom` on (see the preconditions above). */
export function composedAnalysis(base: MessageAnalysis, prefix: Buffer, baseFrom = 0): MessageAnalysis {
  const root = { ...shift(base.root, prefix.length - baseFrom), hs: 0 };
  if (baseFrom === 0) {
    // The prefix alone is a header without a body: its decoded fields, exactly as the analyzer decodes any header.
    return { ...base, root, headers: [...analyzeMessage(prefix).headers, ...base.headers] };
  }
  // The prefix is the whole header: what the analyzer reads from a header, from it alone.
  const header = analyzeMessage(prefix);
  return { ...base, root, envelope: header.envelope, sentDate: header.sentDate, headers: header.headers };
}
