/**
 * The header facts of a message: what SORT, THREAD (RFC 5256, RFC 5957) and
 * the header keys of SEARCH read, derived from its analysis once at ingestion
 * and stored beside it (DESIGN invariant 3; the blobs' `header_facts` column),
 * so a command reads a few short strings per message instead of decoding its
 * analysis.
 *
 * Invariants:
 * - Pure: depends only on the analysis, so facts are shared by every message
 *   with the same bytes (and a composite blob has its base's: the prefix holds
 *   only trace fields none of these read).
 * - Strings that are compared are stored as collation keys (collation.ts);
 *   keys change when the collation code does, so the stored form carries
 *   FACTS_VERSION and a record of another version reads as absent (and is
 *   derived again from the analysis).
 */
import { decodeHeaderValue } from '../mime/encoded-words.js';
import type { MessageAnalysis } from '../mime/types.js';
import { baseSubject } from './base-subject.js';
import { casemapKey, casemapText } from './collation.js';
import { firstAddresses, type EnvelopeAddress } from './envelope-addresses.js';
import { firstMsgId, parseMsgIds } from './message-id.js';

/** Bump whenever what is stored (or how its keys are computed) changes. */
/** 2: folded text is i;unicode-casemap (was upper-then-lower case). */
export const FACTS_VERSION = 2;

/** The header fields whose folded values are kept for SEARCH (RFC 9051 §6.4.4 FROM, TO, CC, BCC, SUBJECT). */
export const FOLDED_FIELDS = ['subject', 'from', 'to', 'cc', 'bcc'] as const;

/** One of FOLDED_FIELDS. */
export type FoldedField = (typeof FOLDED_FIELDS)[number];

const FOLDED_SET = new Set<string>(FOLDED_FIELDS);

/** Whether SEARCH can answer a header key on `field` from the facts alone. */
export function isFoldedField(field: string): field is FoldedField {
  return FOLDED_SET.has(field);
}

/** A message's content as SORT and THREAD compare it and header SEARCH matches it; sort strings are casemap keys (collation.ts). */
export interface ContentFacts {
  /** The Date header as epoch ms (RFC 5256 §2.2), or null when absent or unparseable. */
  sentDate: number | null;
  /** Base subject (RFC 5256 §2.1). */
  subject: string;
  /** The subject marks a reply or forward (RFC 5256 §3, REFERENCES). */
  replyOrForward: boolean;
  /** addr-mailbox of the first From, To, Cc address (RFC 5256 §3). */
  from: string;
  to: string;
  cc: string;
  /** DISPLAY sort value of the first From, To address (RFC 5957 §3). */
  displayFrom: string;
  displayTo: string;
  /** Normalized Message-ID, or null when missing or invalid. */
  messageId: string | null;
  /** The message's references, oldest first: References, else the first In-Reply-To ID (RFC 5256 §3). */
  references: string[];
  /** Every decoded value of each FOLDED_FIELDS field, folded by foldText, in header order. */
  folded: Record<FoldedField, string[]>;
}

/** Folding for SEARCH substring matching: i;unicode-casemap (RFC 5255 §4.3 I18NLEVEL=1, RFC 5051 §2). */
export const foldText = casemapText;

/** The first decoded header field of that (lower-case) name, or ''. */
function header(a: MessageAnalysis, name: string): string {
  for (const [n, v] of a.headers) if (n === name) return v;
  return '';
}

const utf8 = (b: Buffer | null): string => (b === null ? '' : b.toString('utf8'));

/** RFC 5957 §3: the decoded display name, else mailbox@host, else the mailbox, else ''. */
function displayValue(a: EnvelopeAddress | null): string {
  if (a === null) return '';
  const name = a.name === null ? '' : decodeHeaderValue(a.name);
  if (name !== '') return name;
  if (a.mailbox !== null && a.host !== null) return `${utf8(a.mailbox)}@${utf8(a.host)}`;
  return utf8(a.mailbox);
}

/** Derives the content facts of one analysis. */
export function contentFacts(a: MessageAnalysis): ContentFacts {
  const subject = baseSubject(header(a, 'subject'));
  const addrs = firstAddresses(a.envelope);
  let references = parseMsgIds(header(a, 'references'));
  if (references.length === 0) {
    const parent = firstMsgId(header(a, 'in-reply-to'));
    if (parent !== null) references = [parent];
  }
  const folded: Record<FoldedField, string[]> = { subject: [], from: [], to: [], cc: [], bcc: [] };
  for (const [name, value] of a.headers) if (isFoldedField(name)) folded[name].push(foldText(value));
  return {
    sentDate: a.sentDate,
    subject: casemapKey(subject.text),
    replyOrForward: subject.replyOrForward,
    from: casemapKey(utf8(addrs.from?.mailbox ?? null)),
    to: casemapKey(utf8(addrs.to?.mailbox ?? null)),
    cc: casemapKey(utf8(addrs.cc?.mailbox ?? null)),
    displayFrom: casemapKey(displayValue(addrs.from)),
    displayTo: casemapKey(displayValue(addrs.to)),
    messageId: firstMsgId(header(a, 'message-id')),
    references,
    folded,
  };
}

/** The stored form of an analysis' facts (JSON; lone surrogates in keys are escaped by JSON.stringify). */
export function encodeHeaderFacts(a: MessageAnalysis): string {
  return JSON.stringify({ v: FACTS_VERSION, ...contentFacts(a) });
}

/** Facts read back from encodeHeaderFacts' text; null when absent, malformed or of another version. */
export function decodeHeaderFacts(text: string | null): ContentFacts | null {
  if (text === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { v?: unknown }).v !== FACTS_VERSION) return null;
  const { v: _version, ...facts } = parsed as ContentFacts & { v: number };
  return facts;
}
