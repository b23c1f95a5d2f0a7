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
import { parseWrittenDate } from '../mime/date.js';
import { decodeHeaderValue } from '../mime/encoded-words.js';
import type { MessageAnalysis } from '../mime/types.js';
import { baseSubject } from './base-subject.js';
import { casemapKey, casemapText } from './collation.js';
import { addressLists, firstOfLists, type AddressLists, type EnvelopeAddress } from './envelope-addresses.js';
import { firstMsgId, parseMsgIds } from './message-id.js';
import { dayNumber, dayOf, type DayNumber } from './calendar-day.js';
import { headerFieldsCapped } from './full-header.js';

/** Bump whenever what is stored (or how its keys are computed) changes. */
/** 2: folded text is i;unicode-casemap (was upper-then-lower case). 3: sentDay, addresses. 4: headerCapped. */
export const FACTS_VERSION = 4;

/** The header fields whose folded values are kept for SEARCH (RFC 9051 §6.4.4 FROM, TO, CC, BCC, SUBJECT). */
export const FOLDED_FIELDS = ['subject', 'from', 'to', 'cc', 'bcc'] as const;

/** One of FOLDED_FIELDS. */
export type FoldedField = (typeof FOLDED_FIELDS)[number];

const FOLDED_SET = new Set<string>(FOLDED_FIELDS);

/** The fields whose SEARCH keys also match the envelope's addresses (RFC 9051 §6.4.4 FROM, TO, CC, BCC). */
export const ADDRESS_FIELDS = ['from', 'to', 'cc', 'bcc'] as const;

/** One of ADDRESS_FIELDS. */
export type AddressField = (typeof ADDRESS_FIELDS)[number];

const ADDRESS_SET = new Set<string>(ADDRESS_FIELDS);

/** Whether `field` is one of ADDRESS_FIELDS. */
export function isAddressField(field: string): field is AddressField {
  return ADDRESS_SET.has(field);
}

/** Whether SEARCH can answer a header key on `field` from the facts alone. */
export function isFoldedField(field: string): field is FoldedField {
  return FOLDED_SET.has(field);
}

/** A message's content as SORT and THREAD compare it and header SEARCH matches it; sort strings are casemap keys (collation.ts). */
export interface ContentFacts {
  /** The Date header as epoch ms (RFC 5256 §2.2), or null when absent or unparseable. */
  sentDate: number | null;
  /** The Date header's calendar day in its own zone (RFC 9051 §6.4.4 SENT*), or null when absent or unparseable. */
  sentDay: DayNumber | null;
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
  /** Each address field's envelope text (addressText), folded; absent where a folded value already contains it. */
  addresses: Record<AddressField, string[]>;
  /** The analysis holds only the first header fields (full-header.ts): header keys must read the raw header. */
  headerCapped: boolean;
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

/**
 * An address list as its envelope shows it (RFC 9051 §7.5.2): comments and
 * folding white space gone, display names decoded, `name <mailbox@host>`
 * (`<mailbox@host>` without a name, as Dovecot writes it, so a needle with
 * the brackets matches both forms), groups as `name: …;`, joined by ", ".
 */
export function addressText(list: readonly EnvelopeAddress[]): string {
  let out = '';
  // Nothing written yet, or a group just opened: no separator before the next address.
  let open = true;
  for (const a of list) {
    if (a.host === null && a.mailbox === null) {
      out += ';'; // the group ends
      open = false;
      continue;
    }
    if (!open) out += ', ';
    if (a.host === null) {
      out += `${decodeHeaderValue(a.mailbox!)}: `; // NIL host: the group starts, its name in the mailbox
      open = true;
      continue;
    }
    const name = a.name === null ? '' : decodeHeaderValue(a.name);
    const addr = `<${utf8(a.mailbox)}@${utf8(a.host)}>`;
    out += name === '' ? addr : `${name} ${addr}`;
    open = false;
  }
  return out;
}

/** The folded envelope text of each address field, kept only where no folded raw value of the field contains it (it could match nothing more). */
export function addressFacts(lists: AddressLists, folded: (field: AddressField) => readonly string[]): Record<AddressField, string[]> {
  const out: Record<AddressField, string[]> = { from: [], to: [], cc: [], bcc: [] };
  for (const field of ADDRESS_FIELDS) {
    const text = foldText(addressText(lists[field]));
    if (text !== '' && !folded(field).some((v) => v.includes(text))) out[field].push(text);
  }
  return out;
}

/**
 * RFC 9051 §6.4.4 SENT*: the day of the Date header "disregarding time and
 * timezone", i.e. as written in its own zone; null when absent or not a date.
 * The decoded header text kept for SEARCH can be cut short (maxHeaderText),
 * so it is trusted only where it names the instant analysed from the whole
 * field; otherwise that instant's UTC day stands in.
 */
export function sentDay(a: MessageAnalysis): DayNumber | null {
  const written = parseWrittenDate(header(a, 'date'));
  if (written === null || written.instant !== a.sentDate) return a.sentDate === null ? null : dayOf(a.sentDate);
  return dayNumber(written.year, written.month0, written.day);
}

/** Derives the content facts of one analysis. */
export function contentFacts(a: MessageAnalysis): ContentFacts {
  const subject = baseSubject(header(a, 'subject'));
  const lists = addressLists(a.envelope);
  const addrs = firstOfLists(lists);
  let references = parseMsgIds(header(a, 'references'));
  if (references.length === 0) {
    const parent = firstMsgId(header(a, 'in-reply-to'));
    if (parent !== null) references = [parent];
  }
  const folded: Record<FoldedField, string[]> = { subject: [], from: [], to: [], cc: [], bcc: [] };
  for (const [name, value] of a.headers) if (isFoldedField(name)) folded[name].push(foldText(value));
  return {
    sentDate: a.sentDate,
    sentDay: sentDay(a),
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
    addresses: addressFacts(lists, (field) => folded[field]),
    headerCapped: headerFieldsCapped(a),
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
