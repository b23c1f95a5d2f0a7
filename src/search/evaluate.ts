/**
 * Evaluates a search query against one session's mailbox view (RFC 9051
 * §6.4.4 semantics).
 *
 * Invariants:
 * - Cheap keys (flags, sequence numbers, UIDs, sizes, modseqs, \Recent) are
 *   answered from the view, with no store access. A content key (dates,
 *   headers, body) answers "unknown" until content is loaded, so with
 *   three-valued logic only messages the cheap keys cannot decide are loaded.
 * - Content is loaded in batches of at most BATCH messages, and the event loop
 *   gets a turn after every batch read from the store and at least every
 *   slice (WorkSlice) of matching in memory (cheap keys, hot facts), so a large
 *   mailbox never blocks other sessions.
 * - A message pending expunge (or gone from the store) has no content: it can
 *   still match on cheap keys, never on content keys.
 * - Text keys match case-insensitively, after Unicode normalization and case
 *   folding of both sides, as substrings of the decoded text.
 * - A query whose content keys the header facts can answer (dates other than
 *   SAVED*, FROM/TO/CC/BCC/SUBJECT) reads the mailbox's hot facts
 *   (message-facts.ts) instead of records and analyses; both paths give the
 *   same answers, because the facts are folded from the same decoded headers.
 */
import type { Uid } from '../ids.js';
import { hasFlag } from '../mail/flags.js';
import { inRanges, resolveRanges, type SequenceSet } from './sequence-set.js';
import type { MessageAnalysis } from '../mime/types.js';
import { allHeaderFields, headerFieldsCapped, headerRange } from '../mime/full-header.js';
import { WorkSlice } from '../store/shared/background.js';
import type { MessageRecord } from '../store/types.js';
import { dayOf, type DayNumber } from '../mime/calendar-day.js';
import { addressLists } from '../mime/envelope-addresses.js';
import { addressFacts, foldText, isAddressField, isFoldedField, sentDay, type AddressField, type ContentFacts } from '../mime/header-facts.js';
import type { MessageFacts } from './message-facts.js';
import { queryNeeds, type QueryNeeds, type SearchKey } from './query.js';

/** Messages per content batch. */
export const BATCH = 500;

/**
 * The record fields a search reads. A source without save dates leaves them
 * out and SAVED* keys fall back to INTERNALDATE (RFC 8514 §4.3); one without
 * EMAILIDs matches no EMAILID key.
 */
export type ContentRecord = Pick<MessageRecord, 'uid' | 'internalDate' | 'blobId'> & Partial<Pick<MessageRecord, 'saveDate' | 'emailId'>>;

/** Where message content comes from: the store, scoped to the mailbox by the caller. */
export interface ContentSource {
  /** Records of the given UIDs (≤ BATCH), ascending; missing ones are skipped. */
  getRecords(uids: readonly Uid[]): Promise<ReadonlyArray<ContentRecord>>;
  /** The stored analysis of a blob. */
  getAnalysis(blobId: string): Promise<MessageAnalysis | null>;
  /** Bytes [start, end) of a blob: the raw header of a message whose analysis holds only its first fields (full-header.ts). */
  readBlob?(blobId: string, start: number, end: number): Promise<Buffer>;
}

/** The per-message facts a search reads from the session's view (a MailboxView's messages fit). */
export interface SearchMessage {
  uid: Uid;
  modseq: number;
  flags: readonly string[];
  size: number;
}

/** What a search runs against. */
export interface SearchTarget {
  /** The view's messages: index i has sequence number i + 1, ascending UIDs. */
  messages: readonly SearchMessage[];
  /** \Recent for this session (RFC 3501 §2.3.2). */
  isRecent(uid: Uid): boolean;
  /** Expunged in the store, EXPUNGE not yet sent: matches no key (RFC 2180 §4.1: its number stays, its content is gone). */
  isExpunged(uid: Uid): boolean;
  /** The saved result `$` stands for (RFC 5182), as UIDs. */
  saved: readonly Uid[] | null;
  source: ContentSource;
  /** The mailbox's hot facts of these UIDs, aligned (message-facts.ts loadFacts); without it every content key reads the store. */
  facts?: (uids: readonly Uid[]) => Promise<readonly MessageFacts[]>;
}

/** A loaded message's content, folding text lazily and once however many keys ask. */
/** One header field as TEXT searches it: "name: value", folded. */
const foldedLine = ([name, value]: readonly [string, string]): string => `${foldText(name)}: ${foldText(value)}`;

/** Fields folded between two looks at the clock. */
const FIELDS_PER_CHECK = 32;

class Content {
  private headerText: string | null = null;
  private fields: Map<string, string[]> | null = null;
  private body: string | null = null;
  private addresses: Record<AddressField, string[]> | null = null;
  readonly internalDay: DayNumber;
  readonly savedDay: DayNumber;

  /** From a store record and analysis, or (hot path) from INTERNALDATE and the header facts alone. */
  constructor(
    /** INTERNALDATE in ms since the epoch. */
    readonly internalDate: number,
    saveDate: number | null,
    readonly emailId: string | null,
    readonly analysis: MessageAnalysis | null,
    private readonly facts: ContentFacts | null,
    /** Every header field, read raw, when the analysis holds only the first ones. */
    private readonly allHeaders: Array<[string, string]> | null = null,
  ) {
    this.internalDay = dayOf(internalDate);
    this.savedDay = saveDate === null ? this.internalDay : dayOf(saveDate);
  }

  /** Day of the Date header as written; null when there is none or it is not a date (header-facts.ts sentDay). */
  get sentDay(): DayNumber | null {
    if (this.facts !== null) return this.facts.sentDay;
    return this.analysis === null ? null : sentDay(this.analysis);
  }

  /** The folded values of one header field (FROM/SUBJECT/HEADER keys fold only what they read). */
  foldedField(field: string): readonly string[] {
    if (this.facts !== null && isFoldedField(field)) return this.facts.folded[field];
    this.fields ??= new Map();
    let values = this.fields.get(field);
    if (!values) {
      values = [];
      for (const [name, value] of this.headerFields()) if (name === field) values.push(foldText(value));
      this.fields.set(field, values);
    }
    return values;
  }

  /** The folded envelope text of an address field, where its folded values do not already contain it. */
  addressField(field: AddressField): readonly string[] {
    if (this.facts !== null) return this.facts.addresses[field];
    if (this.analysis === null) return [];
    this.addresses ??= addressFacts(addressLists(this.analysis.envelope), (f) => this.foldedField(f));
    return this.addresses[field];
  }

  /**
   * Every field as "name: value", folded, joined by NUL: a needle (a search
   * string, which holds no NUL: RFC 9051 §9 CHAR8) never spans two fields, and
   * each TEXT key scans one string instead of building one per field.
   */
  foldedHeaderText(): string {
    this.headerText ??= this.headerFields().map(foldedLine).join('\0');
    return this.headerText;
  }

  /**
   * Folds the header text ahead in steps, yielding whenever the slice is
   * spent: a message of thousands of fields costs tens of milliseconds to
   * fold, too long to hold the event loop (issue 18, finding 10).
   */
  async foldHeaderTextAhead(slice: WorkSlice): Promise<void> {
    if (this.headerText !== null) return;
    const fields = this.headerFields();
    const lines: string[] = [];
    for (let i = 0; i < fields.length; i++) {
      lines.push(foldedLine(fields[i]!));
      if (i % FIELDS_PER_CHECK === 0 && slice.spent()) await slice.yield();
    }
    this.headerText = lines.join('\0');
  }

  private headerFields(): ReadonlyArray<[string, string]> {
    return this.allHeaders ?? this.analysis?.headers ?? [];
  }

  foldedBody(): string {
    this.body ??= foldText(this.analysis?.bodyText ?? '');
    return this.body;
  }
}

/** true / false, or undefined while content is needed and not loaded. */
type Tri = boolean | undefined;
type Matcher = (m: SearchMessage, index: number, c: Content | null) => Tri;

/** Builds the matcher for a key, resolving sets against the target once. */
function compile(key: SearchKey, t: SearchTarget): Matcher {
  switch (key.kind) {
    case 'all':
      return () => true;
    case 'flag': {
      const { flag, set } = key;
      return (m) => hasFlag(m.flags, flag) === set;
    }
    case 'recent':
      return (m) => t.isRecent(m.uid);
    case 'seq':
    case 'uid':
      return setMatcher(key.kind, key.set, t);
    case 'size': {
      const { op, n } = key;
      return op === 'larger' ? (m) => m.size > n : (m) => m.size < n;
    }
    case 'modseq': {
      const min = key.min;
      return (m) => m.modseq >= min;
    }
    case 'date': {
      const { day, op } = key;
      const pick = key.field === 'internal' ? (c: Content) => c.internalDay : key.field === 'sent' ? (c: Content) => c.sentDay : (c: Content) => c.savedDay;
      const cmp = op === 'before' ? (d: number) => d < day : op === 'on' ? (d: number) => d === day : (d: number) => d >= day;
      // RFC 9051 §6.4.4: "messages whose Date: header field" is before/on/since: without one (or not a date) none is.
      return (_m, _i, c) => {
        if (!c) return undefined;
        const d = pick(c);
        return d !== null && cmp(d);
      };
    }
    case 'within': {
      // RFC 5032 §2: the target is the server's time minus the interval, compared to the second.
      const target = Math.floor(Date.now() / 1000) * 1000 - key.seconds * 1000;
      const older = key.op === 'older';
      return (_m, _i, c) => (c ? (older ? c.internalDate <= target : c.internalDate >= target) : undefined);
    }
    case 'header': {
      const { field } = key;
      const needle = foldText(key.value);
      const has = (values: readonly string[]): boolean => values.some((value) => value.includes(needle));
      // RFC 9051 §6.4.4: FROM etc. search "the envelope structure's FROM field", HEADER the field's text; the raw text counts for both.
      if (key.address && isAddressField(field)) return (_m, _i, c) => (c ? has(c.foldedField(field)) || has(c.addressField(field)) : undefined);
      return (_m, _i, c) => (c ? has(c.foldedField(field)) : undefined);
    }
    case 'emailid': {
      const id = key.id;
      return (_m, _i, c) => (c ? c.emailId === id : undefined);
    }
    case 'threadid':
      return () => false;
    case 'body': {
      const needle = foldText(key.value);
      return (_m, _i, c) => (c ? c.foldedBody().includes(needle) : undefined);
    }
    case 'text': {
      const needle = foldText(key.value);
      return (_m, _i, c) => {
        if (!c) return undefined;
        // Each field as "name: value", so a needle spanning name and value matches as in the raw header.
        return c.foldedHeaderText().includes(needle) || c.foldedBody().includes(needle);
      };
    }
    case 'not': {
      const inner = compile(key.key, t);
      return (m, i, c) => {
        const v = inner(m, i, c);
        return v === undefined ? undefined : !v;
      };
    }
    case 'or':
      return junction([compile(key.left, t), compile(key.right, t)], true);
    case 'and':
      return junction(
        key.keys.map((k) => compile(k, t)),
        false,
      );
  }
}

/**
 * AND (`any` false) or OR (`any` true) in three-valued logic: a decisive
 * operand decides, otherwise any unknown operand leaves the result unknown.
 */
function junction(parts: Matcher[], any: boolean): Matcher {
  return (m, i, c) => {
    let unknown = false;
    for (const p of parts) {
      const v = p(m, i, c);
      if (v === any) return any;
      if (v === undefined) unknown = true;
    }
    return unknown ? undefined : !any;
  };
}

/**
 * A sequence-set key. Numbers beyond EXISTS (or beyond the last UID) simply
 * match nothing, unlike in FETCH (RFC 9051 §6.4.4 searches, it does not name);
 * `$` is the saved UIDs whichever kind of set it stands in (RFC 5182 §2.1).
 */
function setMatcher(kind: 'seq' | 'uid', set: SequenceSet, t: SearchTarget): Matcher {
  if (set.kind === 'saved') {
    const saved = new Set<number>(t.saved ?? []);
    return (m) => saved.has(m.uid);
  }
  const count = t.messages.length;
  if (kind === 'seq') {
    const ranges = resolveRanges(set.ranges, count);
    return (_m, i) => inRanges(ranges, i + 1);
  }
  const ranges = resolveRanges(set.ranges, count ? t.messages[count - 1]!.uid : 0);
  return (m) => inRanges(ranges, m.uid);
}

/**
 * Runs a query; returns the matching view indices in ascending order (so both
 * sequence numbers and UIDs ascend).
 */
export async function evaluateSearch(query: SearchKey, t: SearchTarget): Promise<number[]> {
  const match = compile(query, t);
  const needs = queryNeeds(query);
  const out: number[] = [];
  // Only keys that need the analysis gain from the facts (INTERNALDATE alone is one record read).
  const hot = t.facts !== undefined && needs.analysis && factsSuffice(query);
  const slice = new WorkSlice();
  for (let start = 0; start < t.messages.length; start += BATCH) {
    const end = Math.min(t.messages.length, start + BATCH);
    const hits: number[] = [];
    const pending: number[] = [];
    for (let i = start; i < end; i++) {
      const m = t.messages[i]!;
      // Expunged in the store, EXPUNGE not yet sent: it keeps its number but matches nothing, as the store no longer holds it.
      if (t.isExpunged(m.uid)) continue;
      const v = match(m, i, null);
      if (v) hits.push(i);
      else if (v === undefined) pending.push(i);
    }
    if (pending.length > 0) {
      const content = hot ? matchFacts(pending, t, t.facts!, match, needs) : matchContent(pending, t, match, needs);
      hits.push(...(await content));
      // Cheap hits and content hits of one batch interleave; batches themselves ascend.
      hits.sort((a, b) => a - b);
    }
    for (const i of hits) out.push(i);
    const fromStore = pending.length > 0 && !hot;
    if (end < t.messages.length && (fromStore || slice.spent())) await slice.yield();
  }
  return out;
}

/** Analyses loaded at once (in parallel, for a store with round trips) before matching them one by one. */
const ANALYSIS_GROUP = 4;

/**
 * Loads content for undecided messages and returns those that match. A
 * message with many fields costs milliseconds per key, so the event loop gets
 * a turn after each WorkSlice, between messages.
 */
async function matchContent(indices: number[], t: SearchTarget, match: Matcher, needs: QueryNeeds): Promise<number[]> {
  const needsAnalysis = needs.analysis;
  const byUid = new Map<number, number>(indices.map((i) => [t.messages[i]!.uid, i]));
  const records = await t.source.getRecords(indices.map((i) => t.messages[i]!.uid));
  const hits: number[] = [];
  const slice = new WorkSlice();
  for (let start = 0; start < records.length; start += ANALYSIS_GROUP) {
    const group = records.slice(start, start + ANALYSIS_GROUP);
    const analyses = needsAnalysis ? await Promise.all(group.map((r) => t.source.getAnalysis(r.blobId))) : null;
    for (let k = 0; k < group.length; k++) {
      const rec = group[k]!;
      const i = byUid.get(rec.uid);
      const analysis = analyses ? (analyses[k] ?? null) : null;
      // A record without its analysis cannot be searched: treat it like a message gone meanwhile.
      if (i === undefined || (needsAnalysis && !analysis)) continue;
      // An analysis cut short hides the fields past its cap: header keys read them from the raw header.
      const allHeaders = needs.headerFields ? await uncappedHeader(t.source, rec.blobId, analysis, slice) : null;
      const content = new Content(rec.internalDate.getTime(), rec.saveDate?.getTime() ?? null, rec.emailId ?? null, analysis, null, allHeaders);
      if (needs.headerText) await content.foldHeaderTextAhead(slice);
      if (match(t.messages[i]!, i, content)) hits.push(i);
      if (slice.spent()) await slice.yield();
    }
  }
  return hits;
}

/** Whether the header facts answer every content key of the query (no SAVED*, EMAILID, BODY, TEXT or other header). */
function factsSuffice(key: SearchKey): boolean {
  switch (key.kind) {
    case 'within':
      return true;
    case 'date':
      return key.field !== 'saved';
    case 'header':
      return isFoldedField(key.field);
    case 'emailid':
    case 'body':
    case 'text':
      return false;
    case 'not':
      return factsSuffice(key.key);
    case 'or':
      return factsSuffice(key.left) && factsSuffice(key.right);
    case 'and':
      return key.keys.every(factsSuffice);
    default:
      return true;
  }
}

/** matchContent over the mailbox's hot facts, for queries that need the analysis: a message gone or without one matches no content key, as there. */
async function matchFacts(indices: number[], t: SearchTarget, load: NonNullable<SearchTarget['facts']>, match: Matcher, needs: QueryNeeds): Promise<number[]> {
  const facts = await load(indices.map((i) => t.messages[i]!.uid));
  const hits: number[] = [];
  // Facts folded from capped header fields may miss one: those messages are matched on their raw header.
  const capped: number[] = [];
  indices.forEach((i, k) => {
    const f = facts[k];
    if (f === undefined || f.content === null) return;
    if (needs.headerFields && f.content.headerCapped) capped.push(i);
    else if (match(t.messages[i]!, i, new Content(f.arrival, null, null, null, f.content))) hits.push(i);
  });
  if (capped.length > 0) hits.push(...(await matchContent(capped, t, match, needs)));
  return hits.sort((a, b) => a - b);
}

/** Every header field of a message whose analysis holds only the first ones (read raw, full-header.ts); null otherwise. */
async function uncappedHeader(
  source: ContentSource,
  blobId: string,
  analysis: MessageAnalysis | null,
  slice: WorkSlice,
): Promise<Array<[string, string]> | null> {
  if (analysis === null || source.readBlob === undefined || !headerFieldsCapped(analysis)) return null;
  const { start, end } = headerRange(analysis);
  return allHeaderFields(await source.readBlob(blobId, start, end), () => (slice.spent() ? slice.yield() : null));
}
