/**
 * The facts SORT, THREAD and header SEARCH read per message (INTERNALDATE
 * plus the header facts of header-facts.ts), kept hot per mailbox so that a
 * command over a mailbox it has seen before reads no store row and decodes
 * nothing: Dovecot keeps its sort keys in its index cache for the same reason.
 *
 * Invariants:
 * - Under one UIDVALIDITY a UID always names the same bytes and INTERNALDATE
 *   (RFC 9051 §2.3.1.1, DESIGN invariant 3), so cached facts never go stale;
 *   a mailbox's entry is dropped when its UIDVALIDITY changes, and entries of
 *   expunged UIDs are pruned once they outnumber the live ones.
 * - The cache is partitioned by store (one process may serve several) and
 *   bounded by an estimate of its memory; the least recently used mailbox
 *   goes first, and a mailbox too big for the budget is served uncached.
 * - Cold loads read at most BATCH records per store call and decode at most
 *   ANALYSIS_BATCH analyses (old blobs without stored facts) between two turns
 *   of the event loop.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Uid } from '../ids.js';
import { BATCH, type ContentSource } from './evaluate.js';
import { ADDRESS_FIELDS, contentFacts, decodeHeaderFacts, encodeHeaderFacts, FACTS_VERSION, FOLDED_FIELDS, type ContentFacts } from '../mime/header-facts.js';

/** One message's facts. */
export interface MessageFacts {
  /** INTERNALDATE, epoch ms. */
  arrival: number;
  /** null when the message's analysis is missing. */
  content: ContentFacts | null;
}

/** Facts of a message that is gone from the store: every string empty, every date the earliest. */
export const GONE: MessageFacts = Object.freeze({ arrival: 0, content: null });

/** The sent date RFC 5256 §2.2 sorts by: the Date header, else INTERNALDATE. */
export function sentDate(f: MessageFacts): number {
  return f.content?.sentDate ?? f.arrival;
}

/** The selected mailbox as loadFacts reads it. */
export interface FactsSource extends ContentSource {
  /** Stored header facts by blob id (MailStore.getHeaderFacts). */
  getHeaderFacts(blobIds: readonly string[]): Promise<Map<string, string>>;
  /** Records facts derived for blobs stored without them (MailStore.saveHeaderFacts). */
  saveHeaderFacts(facts: ReadonlyMap<string, string>, version: number): Promise<void>;
  /** The store the UIDs belong to: one cache partition per store. */
  store: object;
  mailboxId: number;
  uidValidity: number;
  /** The UIDs still in the mailbox (for pruning), and how many there are. */
  liveCount: number;
  isLive(uid: Uid): boolean;
}

/** Rough memory of a cache entry in bytes (UTF-16 strings plus object and map overhead). */
function footprint(f: MessageFacts): number {
  const c = f.content;
  if (c === null) return 120;
  let chars = c.subject.length + c.from.length + c.to.length + c.cc.length + c.displayFrom.length + c.displayTo.length;
  chars += c.messageId?.length ?? 0;
  for (const r of c.references) chars += r.length + 8;
  for (const field of FOLDED_FIELDS) for (const v of c.folded[field]) chars += v.length + 8;
  for (const field of ADDRESS_FIELDS) for (const v of c.addresses[field]) chars += v.length + 8;
  return 2 * chars + 400;
}

/** What a SORT key compares of a message's facts: a casemap key (collation.ts) or a number. */
export type SortValue = (f: MessageFacts) => string | number;

/** The order of one SORT key over a mailbox's cached messages, as of `version`. */
interface RankTable {
  version: number;
  /** Rank by UID: equal values share a rank, and a lower rank sorts first. */
  rankOf: Map<number, number>;
}

/** One mailbox's cached facts by UID. */
interface MailboxEntry {
  uidValidity: number;
  byUid: Map<number, MessageFacts>;
  /** Raised whenever byUid gains a message: rank tables of an older version are rebuilt. */
  version: number;
  /** By SORT key name. */
  ranks: Map<string, RankTable>;
  /** Results derived from the facts of one exact message list (memoized), by name. */
  memos: Map<string, Memo>;
  bytes: number;
}

/** A memoized result and the exact input it was computed from. */
interface Memo {
  uids: readonly number[];
  indices: readonly number[];
  value: unknown;
  bytes: number;
}

/** Estimated bytes per message of a memoized result (a THREAD tree node). */
const MEMO_BYTES = 160;

/** Estimated bytes of one rank table entry (a Map slot of two small integers). */
const RANK_BYTES = 40;

/** About 64 MiB by the estimate above: the facts of some 100,000 typical messages. */
const BUDGET = 64 * 1024 * 1024;

/** Every cached mailbox, least recently used first, by store; `bytes` is the total over all stores. */
const cache = { stores: new WeakMap<object, Map<number, MailboxEntry>>(), lru: new Map<MailboxEntry, Map<number, MailboxEntry>>(), bytes: 0 };

/** The cache entry of the source's mailbox, made most recently used (and reset on a new UIDVALIDITY). */
function entryOf(source: FactsSource): MailboxEntry {
  let boxes = cache.stores.get(source.store);
  if (boxes === undefined) cache.stores.set(source.store, (boxes = new Map()));
  let entry = boxes.get(source.mailboxId);
  if (entry !== undefined && entry.uidValidity !== source.uidValidity) {
    drop(entry);
    entry = undefined;
  }
  if (entry === undefined) {
    entry = { uidValidity: source.uidValidity, byUid: new Map(), version: 0, ranks: new Map(), memos: new Map(), bytes: 0 };
    boxes.set(source.mailboxId, entry);
  }
  cache.lru.delete(entry);
  cache.lru.set(entry, boxes);
  // Expunged UIDs never come back: forget them once they would double the entry.
  if (entry.byUid.size > 2 * source.liveCount + 1000) {
    for (const [uid, f] of entry.byUid) {
      if (source.isLive(uid as Uid)) continue;
      entry.byUid.delete(uid);
      entry.bytes -= footprint(f);
      cache.bytes -= footprint(f);
    }
    for (const table of entry.ranks.values()) {
      entry.bytes -= table.rankOf.size * RANK_BYTES;
      cache.bytes -= table.rankOf.size * RANK_BYTES;
    }
    entry.ranks.clear();
  }
  return entry;
}

/** Forgets a mailbox's entry and everything derived from it. */
function drop(entry: MailboxEntry): void {
  const boxes = cache.lru.get(entry);
  cache.lru.delete(entry);
  cache.bytes -= entry.bytes;
  for (const [id, e] of boxes ?? []) if (e === entry) boxes!.delete(id);
}

/** Caches a message's facts unless that would exceed the budget with only this mailbox left. */
function remember(entry: MailboxEntry, uid: number, f: MessageFacts): void {
  const size = footprint(f);
  for (const older of cache.lru.keys()) {
    if (cache.bytes + size <= BUDGET || older === entry) break;
    drop(older);
  }
  if (cache.bytes + size > BUDGET) return;
  entry.byUid.set(uid, f);
  entry.version++;
  entry.bytes += size;
  cache.bytes += size;
}

/** Dense ranks of values (all strings or all numbers): equal values share a rank, a lower rank sorts first. */
export function ranksOf(values: ReadonlyArray<string | number>): Float64Array {
  // `<` orders casemap keys as the collation does (collation.ts), and numbers as numbers.
  const order = values.map((_, p) => p).sort((a, b) => (values[a]! < values[b]! ? -1 : values[a]! > values[b]! ? 1 : 0));
  const ranks = new Float64Array(values.length);
  let rank = 0;
  order.forEach((p, k) => {
    if (k > 0 && values[p] !== values[order[k - 1]!]) rank++;
    ranks[p] = rank;
  });
  return ranks;
}

/** Rebuilds a SORT key's rank table from every cached message of the mailbox: one sort of its values. */
function rankTable(entry: MailboxEntry, name: string, value: SortValue): RankTable {
  const old = entry.ranks.get(name);
  if (old !== undefined && old.version === entry.version) return old;
  const uids = [...entry.byUid.keys()];
  const ranks = ranksOf(Array.from(entry.byUid.values(), value));
  const rankOf = new Map(uids.map((uid, k) => [uid, ranks[k]!]));
  const table = { version: entry.version, rankOf };
  const delta = (rankOf.size - (old?.rankOf.size ?? 0)) * RANK_BYTES;
  entry.ranks.set(name, table);
  entry.bytes += delta;
  cache.bytes += delta;
  return table;
}

const sameList = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * `compute()`, or its result from the last call with the same name, UIDs
 * and view indices in this mailbox: facts never change for a UID, so a
 * result derived only from them (a SORT order, a THREAD tree) holds as long
 * as its input does. Asked before compute() runs, so a hit loads no facts.
 * One result per name and mailbox is kept, within the cache's budget.
 */
export async function memoized<T>(source: FactsSource, name: string, uids: readonly Uid[], indices: readonly number[], compute: () => Promise<T>): Promise<T> {
  const entry = entryOf(source);
  const old = entry.memos.get(name);
  if (old !== undefined && sameList(old.uids, uids) && sameList(old.indices, indices)) return old.value as T;
  const value = await compute();
  // Another call may have replaced the result meanwhile, or the entry may be gone (budget, new UIDVALIDITY).
  const bytes = uids.length * MEMO_BYTES;
  const delta = bytes - (entry.memos.get(name)?.bytes ?? 0);
  if (cache.lru.has(entry) && cache.bytes + delta <= BUDGET) {
    entry.memos.set(name, { uids: uids.slice(), indices: indices.slice(), value, bytes });
    entry.bytes += delta;
    cache.bytes += delta;
  }
  return value;
}

/**
 * The ranks (ranksOf) of SORT key `name`, whose values `value` reads, for
 * `uids` (aligned), from the mailbox's cached rank table, so a SORT neither
 * compares strings nor sorts what it sorted last time; null when some UID is
 * not cached, or when the table is out of date and `uids` are too few to pay
 * for rebuilding it (the caller ranks its own facts then).
 */
export function cachedRanks(source: FactsSource, name: string, value: SortValue, uids: readonly Uid[]): Float64Array | null {
  const entry = cache.stores.get(source.store)?.get(source.mailboxId);
  if (entry === undefined || entry.uidValidity !== source.uidValidity) return null;
  if (entry.ranks.get(name)?.version !== entry.version && uids.length * 8 < entry.byUid.size) return null;
  const table = rankTable(entry, name, value);
  const out = new Float64Array(uids.length);
  for (let p = 0; p < uids.length; p++) {
    const r = table.rankOf.get(uids[p]!);
    if (r === undefined) return null;
    out[p] = r;
  }
  return out;
}

/** Analyses decoded between two event-loop turns (only blobs stored without header facts need one). */
const ANALYSIS_BATCH = 100;

/** Facts of uncached messages from the store, by UID; a message gone from the store is absent. */
async function fetchFacts(source: FactsSource, uids: readonly Uid[]): Promise<Map<number, MessageFacts>> {
  const out = new Map<number, MessageFacts>();
  for (let start = 0; start < uids.length; start += BATCH) {
    if (start > 0) await nextTurn();
    const records = await source.getRecords(uids.slice(start, start + BATCH));
    const blobIds = [...new Set(records.map((r) => r.blobId))];
    const stored = await source.getHeaderFacts(blobIds);
    const content = new Map<string, ContentFacts | null>();
    const missing: string[] = [];
    for (const id of blobIds) {
      const facts = decodeHeaderFacts(stored.get(id) ?? null);
      if (facts === null) missing.push(id);
      else content.set(id, facts);
    }
    // Blobs stored before the header_facts column (or with facts of an older version): derived
    // from their analysis, as at ingestion, and written back so this happens once per blob.
    const derived = new Map<string, string>();
    for (let from = 0; from < missing.length; from += ANALYSIS_BATCH) {
      if (from > 0) await nextTurn();
      const chunk = missing.slice(from, from + ANALYSIS_BATCH);
      const analyses = await Promise.all(chunk.map((id) => source.getAnalysis(id)));
      analyses.forEach((a, k) => {
        content.set(chunk[k]!, a === null ? null : contentFacts(a));
        if (a !== null) derived.set(chunk[k]!, encodeHeaderFacts(a));
      });
    }
    // Only a cache of what the analysis says: should the write fail, the facts are derived again next time.
    if (derived.size > 0) await source.saveHeaderFacts(derived, FACTS_VERSION).catch(() => undefined);
    for (const r of records) out.set(r.uid, { arrival: r.internalDate.getTime(), content: content.get(r.blobId) ?? null });
  }
  return out;
}

/**
 * The facts of the given messages, aligned with `uids`: from the mailbox's
 * cache, the rest loaded from the store and cached. A message gone from the
 * store gets GONE, which sorts first.
 */
export async function loadFacts(source: FactsSource, uids: readonly Uid[]): Promise<MessageFacts[]> {
  const entry = entryOf(source);
  const out: MessageFacts[] = new Array<MessageFacts>(uids.length);
  const misses: Uid[] = [];
  for (let p = 0; p < uids.length; p++) {
    const f = entry.byUid.get(uids[p]!);
    if (f === undefined) misses.push(uids[p]!);
    else out[p] = f;
  }
  if (misses.length === 0) return out;
  const fetched = await fetchFacts(source, misses);
  // The entry may have been dropped meanwhile (budget, new UIDVALIDITY): then these stay uncached.
  const live = cache.lru.has(entry);
  for (let p = 0; p < uids.length; p++) {
    if (out[p] !== undefined) continue;
    const f = fetched.get(uids[p]!);
    out[p] = f ?? GONE;
    if (f !== undefined && live) remember(entry, uids[p]!, f);
  }
  return out;
}
