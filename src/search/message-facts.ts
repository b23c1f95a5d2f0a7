/**
 * What SORT and THREAD need to know about messages (RFC 5256, RFC 5957),
 * loaded in batches from the store and reduced at once to a few small
 * fields, so a sort never holds message analyses (with their body text) in
 * memory.
 *
 * Invariants:
 * - At most BATCH records are loaded per store call and at most
 *   ANALYSIS_BATCH analyses (each may carry up to 256 KB of body text to
 *   decode) between two turns of the event loop.
 * - Content facts depend only on a message's bytes, which never change and are
 *   addressed by their hash (DESIGN invariant 3), so they are cached by blob
 *   id for the whole process, without invalidation; the cache is bounded by an
 *   estimate of its memory and forgets the least recently used first.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Uid } from '../ids.js';
import { decodeHeaderValue } from '../mime/encoded-words.js';
import type { MessageAnalysis } from '../mime/types.js';
import { baseSubject } from './base-subject.js';
import { casemapKey } from './collation.js';
import { firstAddresses, type EnvelopeAddress } from './envelope-addresses.js';
import { BATCH, type ContentSource } from './evaluate.js';
import { firstMsgId, parseMsgIds } from './message-id.js';

/** A message's content as SORT and THREAD compare it; strings are casemap keys (collation.ts). */
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
}

/** One message's facts. */
export interface MessageFacts {
  /** INTERNALDATE, epoch ms. */
  arrival: number;
  /** null when the analysis was not asked for or is missing. */
  content: ContentFacts | null;
}

/** Facts of a message that is gone from the store: every string empty, every date the earliest. */
const GONE: MessageFacts = { arrival: 0, content: null };

/** The sent date RFC 5256 §2.2 sorts by: the Date header, else INTERNALDATE. */
export function sentDate(f: MessageFacts): number {
  return f.content?.sentDate ?? f.arrival;
}

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
  };
}

/** Rough memory of a cache entry in bytes (UTF-16 strings plus object overhead). */
function footprint(f: ContentFacts): number {
  let chars = f.subject.length + f.from.length + f.to.length + f.cc.length + f.displayFrom.length + f.displayTo.length;
  chars += f.messageId?.length ?? 0;
  for (const r of f.references) chars += r.length + 8;
  return 2 * chars + 200;
}

/** Process-wide cache of content facts by blob id, least recently used first (Map keeps insertion order). */
class FactsCache {
  private readonly map = new Map<string, ContentFacts>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  get(blobId: string): ContentFacts | undefined {
    const f = this.map.get(blobId);
    if (f !== undefined) {
      this.map.delete(blobId);
      this.map.set(blobId, f);
    }
    return f;
  }

  set(blobId: string, f: ContentFacts): void {
    if (this.map.has(blobId)) return;
    this.map.set(blobId, f);
    this.bytes += footprint(f);
    for (const [oldest, old] of this.map) {
      if (this.bytes <= this.budget) break;
      this.map.delete(oldest);
      this.bytes -= footprint(old);
    }
  }
}

/** Analyses decoded between two event-loop turns. */
const ANALYSIS_BATCH = 100;

/** About 64 MiB by the estimate above: the facts of some 100,000 typical messages. */
const cache = new FactsCache(64 * 1024 * 1024);

/**
 * Loads the facts of the given messages, aligned with `uids`; with
 * `withContent` false only INTERNALDATE is read (ARRIVAL needs no analysis).
 * A message gone from the store gets empty facts, which sort first.
 */
export async function loadFacts(source: ContentSource, uids: readonly Uid[], withContent: boolean): Promise<MessageFacts[]> {
  const out: MessageFacts[] = [];
  for (let start = 0; start < uids.length; start += BATCH) {
    if (start > 0) await nextTurn();
    const slice = uids.slice(start, start + BATCH);
    const records = new Map((await source.getRecords(slice)).map((r) => [r.uid as number, r]));
    // Content by blob id for this batch: cached, else derived from the analysis now.
    const content = new Map<string, ContentFacts | null>();
    if (withContent) {
      const misses: string[] = [];
      for (const r of records.values()) {
        if (content.has(r.blobId)) continue;
        const hit = cache.get(r.blobId);
        content.set(r.blobId, hit ?? null);
        if (hit === undefined) misses.push(r.blobId);
      }
      for (let from = 0; from < misses.length; from += ANALYSIS_BATCH) {
        if (from > 0) await nextTurn();
        const chunk = misses.slice(from, from + ANALYSIS_BATCH);
        const analyses = await Promise.all(chunk.map((blobId) => source.getAnalysis(blobId)));
        analyses.forEach((a, k) => {
          if (a === null) return;
          const facts = contentFacts(a);
          content.set(chunk[k]!, facts);
          cache.set(chunk[k]!, facts);
        });
      }
    }
    for (const u of slice) {
      const rec = records.get(u);
      out.push(rec === undefined ? GONE : { arrival: rec.internalDate.getTime(), content: content.get(rec.blobId) ?? null });
    }
  }
  return out;
}
