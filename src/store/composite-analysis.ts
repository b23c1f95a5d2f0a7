/**
 * The analysis of a composite blob (BlobStore.putComposite): header lines
 * `prefix` put in front of a stored message, derived from the message's own
 * analysis instead of parsing the composed bytes again. Header lines at the
 * top change no MIME structure: every part's offsets move by the prefix's
 * length, the root header now starts with the prefix, and the prefix's fields
 * come first in the decoded header list. ENVELOPE, BODY, BODYSTRUCTURE, the
 * Date and the body text stay as they are, because the prefix carries none of
 * the fields they are built from (Return-Path and Delivered-To only).
 *
 * Precondition (composablePrefix): the base does not start with white space,
 * which would continue the prefix's last field (RFC 5322 §2.2.3). Header caps
 * (MessageAnalyzer limits) apply to the base alone, so a base already at its
 * header-text cap keeps all of it plus the prefix's fields.
 */
import { analyzeMessage } from '../mime/analyze.js';
import type { MessageAnalysis, PartIndex } from '../mime/types.js';

/** Whether a prefix may be put before a message starting with `firstByte` (undefined: empty) without changing its header. */
export function composablePrefix(firstByte: number | undefined): boolean {
  return firstByte !== 0x20 && firstByte !== 0x09;
}

function shift(part: PartIndex, by: number): PartIndex {
  const out: PartIndex = { ...part, hs: part.hs + by, bs: part.bs + by, be: part.be + by };
  if (part.parts) out.parts = part.parts.map((p) => shift(p, by));
  return out;
}

/** The analysis of `prefix` followed by the message `base` describes (see the precondition above). */
export function composedAnalysis(base: MessageAnalysis, prefix: Buffer): MessageAnalysis {
  // The prefix alone is a header without a body: its decoded fields, exactly as the analyzer decodes any header.
  const prefixFields = analyzeMessage(prefix).headers;
  return {
    ...base,
    root: { ...shift(base.root, prefix.length), hs: 0 },
    headers: [...prefixFields, ...base.headers],
  };
}
