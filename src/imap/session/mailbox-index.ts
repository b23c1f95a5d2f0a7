/**
 * The shared mailbox index (DESIGN "Shared mailbox index"): the summaries
 * (UID, modseq, flags, size) of each mailbox some session has open live once
 * per process, refreshed from the store by modseq. SELECT takes a snapshot —
 * one array copy — instead of reading every row from the store, and every
 * session's sync step reads its changes from here: one `changesSince` per
 * mailbox per change per process, however many sessions have it selected.
 *
 * Freshness: each cached mailbox is subscribed to the change bus, which
 * announces every commit's modseq (local ones synchronously; other processes'
 * and nodes' ones through the bus, and `bus.settle` makes that immediate).
 * An entry whose modseq is at least every announced one is current and
 * answers without a store query; otherwise it refreshes first.
 *
 * Invariants: an entry reflects the store exactly as of its `modseq`;
 * summaries are immutable (shared with views); refreshes of one mailbox are
 * serialized; the journal of recent changes covers `[journal[0].from,
 * modseq]` contiguously (older views ask the store); the number of cached
 * mailboxes, journal entries and merged answers is bounded.
 */
import { modseq, type AccountId, type MailboxId, type ModSeq, type Uid } from '../../ids.js';
import { SliceSize } from './slices.js';
import { StoreError, type FlagChangeResult, type FlagChange, type MailboxChanges, type MailStore, type MessageSummary } from '../../store/types.js';

/** Mailboxes kept in memory per process. */
const MAX_CACHED = 256;
/** Changes (refreshes) kept for views that are behind. */
const MAX_JOURNAL = 64;
/** Messages across the journal; beyond it the oldest changes are dropped. */
const MAX_JOURNAL_ITEMS = 20_000;

/** One refresh: what changed between two modseqs of the entry (the store's answer, never mutated). */
interface Delta {
  from: number;
  to: number;
  changed: readonly MessageSummary[];
  expunged: readonly Uid[];
}

interface Entry {
  accountId: AccountId;
  mailboxId: MailboxId;
  uidValidity: number;
  uidNext: Uid;
  modseq: ModSeq;
  /** Highest modseq the change bus reported; above `modseq` means stale. */
  busModseq: number;
  /** Never changed in place once handed out: a refresh with changes works on a copy. */
  summaries: MessageSummary[];
  /** Whether `summaries` was handed to a view since it was last copied. */
  shared: boolean;
  /** `summaries` before the last refresh, when that refresh only appended and changed flags (views at it may take the new one). */
  previous: { summaries: MessageSummary[]; modseq: number } | null;
  /** SELECT's per-mailbox facts for this `summaries`, computed on first need. */
  facts: MailboxFacts | null;
  refreshing: Promise<void> | null;
  journal: Delta[];
  journalItems: number;
  /** Answers of changesSince per `since`, valid for the current `modseq` (shared by views at the same state). */
  merged: Map<number, IndexChanges>;
  /** UIDs below this had their \Recent claimed by a session of this process (or by another before). */
  claimedBelow: number;
  claiming: Promise<unknown> | null;
  /** What the claim in progress covers (`upTo` of its caller). */
  claimingBelow: number;
  unsubscribe: () => void;
}

/** What SELECT reports besides the counts (RFC 9051 §6.3.2 FLAGS, RFC 3501 UNSEEN). */
export interface MailboxFacts {
  /** Keywords in use, in first-seen order. */
  keywords: string[];
  /** Index of the first message without \Seen, or -1. */
  firstUnseen: number;
}

/**
 * changesSince's answer. `result`, when present, says that applying the
 * changes to the array `appliedTo` gives exactly `summaries` (shared with the
 * index, never to be mutated): a view still holding `appliedTo` takes it
 * instead of copying its own (one copy per change per process, not one per
 * idling session).
 */
export interface IndexChanges extends MailboxChanges {
  result?: { appliedTo: readonly MessageSummary[]; summaries: readonly MessageSummary[] };
}

/** A consistent copy of a mailbox's summaries as of `modseq`. */
export interface IndexSnapshot {
  uidValidity: number;
  uidNext: Uid;
  modseq: ModSeq;
  /** Shared with the index: never mutate it (MailboxView copies on its first change). */
  summaries: MessageSummary[];
  facts: MailboxFacts;
}

/** Per-process cache of mailbox indexes. */
export class MailboxIndexCache {
  private readonly entries = new Map<number, Entry>();
  /** Loads in progress: concurrent first SELECTs share one. */
  private readonly loading = new Map<number, Promise<Entry>>();
  private readonly flagSlices = new SliceSize();

  /** `sliceSize`: messages per store transaction of a long flag change (limits.messages-per-transaction). */
  constructor(
    private readonly store: MailStore,
    private readonly sliceSize = 500,
  ) {}

  /**
   * A fresh snapshot of a mailbox (brought up to date with the store first).
   * `settled`: the caller settled the bus for it since the command arrived.
   */
  async snapshot(accountId: AccountId, mailboxId: MailboxId, settled = false): Promise<IndexSnapshot> {
    const entry = await this.current(accountId, mailboxId, settled);
    entry.shared = true;
    entry.facts ??= factsOf(entry.summaries);
    return { uidValidity: entry.uidValidity, uidNext: entry.uidNext, modseq: entry.modseq, summaries: entry.summaries, facts: entry.facts };
  }

  /**
   * Everything that changed after `since`, as store.changesSince answers it,
   * from memory when the journal reaches back that far. The answer is shared
   * by every caller at the same `since`: never mutate it.
   */
  async changesSince(accountId: AccountId, mailboxId: MailboxId, since: ModSeq): Promise<IndexChanges> {
    const cached = this.entries.get(mailboxId);
    // Evicted (many mailboxes in use): ask the store rather than load the whole mailbox again.
    if (cached?.accountId !== accountId) return this.store.changesSince(accountId, mailboxId, since);
    // The idlers a change woke after the first wait for the refresh that one started, not each for its own.
    if (cached.refreshing && cached.modseq <= since) await cached.refreshing.catch(() => undefined);
    // A view behind a current index takes what the index knows without settling again; a view
    // level with it makes sure nothing newer was committed.
    const entry = cached.modseq > since && cached.busModseq <= cached.modseq ? cached : await this.current(accountId, mailboxId);
    return this.answer(entry, since) ?? this.store.changesSince(accountId, mailboxId, since);
  }

  /**
   * changesSince at once, for a view behind an index that is current (an
   * idler after a refresh): null when only the async path can answer.
   */
  changesSinceNow(accountId: AccountId, mailboxId: MailboxId, since: ModSeq): IndexChanges | null {
    const entry = this.entries.get(mailboxId);
    if (entry?.accountId !== accountId || entry.refreshing || entry.modseq <= since || entry.busModseq > entry.modseq) return null;
    return this.answer(entry, since);
  }

  /** The changes after `since` from the journal (shared per `since`), or null when it does not reach back. */
  private answer(entry: Entry, since: number): IndexChanges | null {
    let answer = entry.merged.get(since);
    if (answer) return answer;
    const oldest = entry.journal[0]?.from ?? entry.modseq;
    if (since < oldest || since > entry.modseq) return null;
    answer = merge(entry, since);
    if (entry.previous?.modseq === since) {
      answer.result = { appliedTo: entry.previous.summaries, summaries: entry.summaries };
      entry.shared = true;
    }
    if (entry.merged.size >= MAX_JOURNAL) entry.merged.clear();
    entry.merged.set(since, answer);
    return answer;
  }

  /**
   * Claims \Recent (RFC 3501 §2.3.2) for a rev1 read-write session that now
   * knows the messages below `upTo`: returns the first UID that is recent for
   * it (none below `upTo` when it returns `upTo`). The store's claim stays the
   * authority across processes; within the process one claim serves a batch
   * of new messages, so the idlers after the first one ask nobody.
   */
  async claimRecent(accountId: AccountId, mailboxId: MailboxId, upTo: number): Promise<number> {
    const entry = this.entries.get(mailboxId);
    if (!entry || entry.accountId !== accountId) return this.store.claimRecent(accountId, mailboxId);
    const claimed = this.claimedNow(accountId, mailboxId, upTo);
    if (claimed !== null) return claimed;
    while (entry.claiming) await entry.claiming;
    // Claimed here before (or by another process, which the store said then): nothing new is recent.
    if (upTo <= entry.claimedBelow) return upTo;
    const claim = this.store.claimRecent(accountId, mailboxId);
    entry.claimingBelow = upTo;
    entry.claiming = claim.then(
      () => {
        entry.claimedBelow = Math.max(entry.claimedBelow, upTo);
      },
      () => undefined,
    );
    try {
      return await claim;
    } finally {
      entry.claiming = null;
    }
  }

  /**
   * A flag change (STORE, FETCH's implicit \Seen) committed through the
   * index: every message it changes gets the same new modseq, so the index
   * learns the commit from the store's answer instead of reading the changed
   * rows back at the next sync — when the change committed (a STORE that
   * changed nothing answers the mailbox's current modseq, which may be
   * another writer's commit) and the entry is exactly one modseq behind and
   * not refreshing; otherwise the next use refreshes as usual. Sessions still
   * learn of it only through their sync step.
   */
  async storeFlags(accountId: AccountId, mailboxId: MailboxId, uids: readonly Uid[], change: FlagChange): Promise<FlagChangeResult> {
    if (uids.length === 0) return this.store.storeFlags(accountId, mailboxId, uids, change);
    // RFC 9051 §6.4.6: each message's change is atomic, not the whole set's, so a long STORE commits in slices.
    const total: FlagChangeResult = { modseq: modseq(0), changed: [], conflicts: [] };
    await this.flagSlices.inSlices(uids, this.sliceSize, async (slice) => {
      const res = await this.store.storeFlags(accountId, mailboxId, slice, change);
      const entry = this.entries.get(mailboxId);
      if (res.changed.length > 0 && entry?.accountId === accountId && !entry.refreshing && entry.modseq === res.modseq - 1) {
        applyDelta(entry, res.changed, [], res.modseq);
      }
      total.modseq = res.modseq;
      for (const c of res.changed) total.changed.push(c);
      for (const u of res.conflicts) total.conflicts.push(u);
    });
    return total;
  }

  /**
   * The first UID below `upTo` recent for a session (RFC 3501 §2.3.2): a
   * read-write one claims them (claimRecent); a read-only one (EXAMINE,
   * §6.3.2) sees the unclaimed ones as recent and leaves them so.
   */
  async recentFor(accountId: AccountId, mailboxId: MailboxId, upTo: number, readOnly: boolean): Promise<number> {
    if (!readOnly) return this.claimRecent(accountId, mailboxId, upTo);
    return this.claimedNow(accountId, mailboxId, upTo) ?? this.store.firstRecentUid(accountId, mailboxId);
  }

  /**
   * claimRecent at once when nothing below `upTo` is left to claim: claimed
   * here already, or being claimed for these UIDs by another session (the
   * idlers after the first), whose they are; this one need not wait for that
   * commit. Should the claim fail, they stay unclaimed for a later session.
   * Null when only the async path can answer.
   */
  claimedNow(accountId: AccountId, mailboxId: MailboxId, upTo: number): number | null {
    const entry = this.entries.get(mailboxId);
    if (entry?.accountId !== accountId) return null;
    return upTo <= (entry.claiming ? Math.max(entry.claimedBelow, entry.claimingBelow) : entry.claimedBelow) ? upTo : null;
  }

  /** The mailbox's entry, loaded or brought up to date with the store. */
  private async current(accountId: AccountId, mailboxId: MailboxId, settled = false): Promise<Entry> {
    let entry = this.entries.get(mailboxId);
    if (entry && entry.accountId !== accountId) entry = undefined;
    if (entry) {
      // Believed current: make sure (a stale entry's refresh reads everything committed anyway).
      // Awaiting also lets a publish in progress reach every listener, this index's included.
      if (entry.busModseq <= entry.modseq && !settled) await this.store.bus.settle?.(accountId, mailboxId);
      if (!this.store.bus.settle || entry.busModseq > entry.modseq) await this.refresh(entry);
    } else {
      let load = this.loading.get(mailboxId);
      if (!load) {
        load = this.load(accountId, mailboxId).finally(() => this.loading.delete(mailboxId));
        this.loading.set(mailboxId, load);
      }
      entry = await load;
      if (entry.accountId !== accountId) return this.current(accountId, mailboxId, settled);
    }
    // LRU: most recently used last.
    if (this.entries.get(mailboxId) === entry) {
      this.entries.delete(mailboxId);
      this.entries.set(mailboxId, entry);
    }
    return entry;
  }

  private async load(accountId: AccountId, mailboxId: MailboxId): Promise<Entry> {
    const entry: Entry = {
      accountId,
      mailboxId,
      uidValidity: 0,
      uidNext: 0 as Uid,
      modseq: 0 as ModSeq,
      busModseq: 0,
      summaries: [],
      shared: false,
      previous: null,
      facts: null,
      refreshing: null,
      journal: [],
      journalItems: 0,
      merged: new Map(),
      claimedBelow: 0,
      claiming: null,
      claimingBelow: 0,
      unsubscribe: () => undefined,
    };
    // Subscribe first: a commit racing with the reads below is announced, and the next use refreshes.
    entry.unsubscribe = this.store.bus.subscribe(accountId, mailboxId, (m) => {
      if (m > entry.busModseq) entry.busModseq = m;
    });
    try {
      // Modseq first: changes racing with the read are applied again, idempotently, by the refresh.
      const mb = await this.store.getMailboxById(accountId, mailboxId);
      if (!mb) throw new StoreError('NONEXISTENT', 'Mailbox does not exist');
      entry.summaries = (await this.store.listSummaries(accountId, mailboxId)).map((s) => Object.freeze(s));
      entry.uidValidity = mb.uidValidity;
      entry.uidNext = mb.uidNext;
      entry.modseq = mb.highestModSeq;
      await this.refresh(entry);
    } catch (e) {
      entry.unsubscribe();
      throw e;
    }
    // Only a complete entry is ever visible to other callers.
    this.evict(mailboxId);
    this.entries.set(mailboxId, entry);
    while (this.entries.size > MAX_CACHED) this.evict(this.entries.keys().next().value!);
    return entry;
  }

  /** Drops a cached mailbox (only `expected`, when given) and its bus subscription. */
  private evict(mailboxId: number, expected?: Entry): void {
    const entry = this.entries.get(mailboxId);
    if (!entry || (expected && entry !== expected)) return;
    entry.unsubscribe();
    this.entries.delete(mailboxId);
  }

  private async refresh(entry: Entry): Promise<void> {
    while (entry.refreshing) await entry.refreshing;
    if (this.store.bus.settle && entry.busModseq <= entry.modseq) return;
    entry.refreshing = (async () => {
      const changes = await this.store.changesSince(entry.accountId, entry.mailboxId, entry.modseq);
      if (changes.uidValidity !== entry.uidValidity) {
        const fresh = await this.store.listSummaries(entry.accountId, entry.mailboxId);
        entry.summaries = fresh.map((s) => Object.freeze(s));
        entry.uidValidity = changes.uidValidity;
        entry.shared = false;
        entry.previous = null;
        entry.facts = null;
        entry.journal = [];
        entry.journalItems = 0;
        entry.merged.clear();
        entry.claimedBelow = 0;
      } else {
        applyDelta(entry, changes.changed, changes.expunged, changes.highestModSeq);
      }
      if (changes.uidNext !== entry.uidNext) entry.merged.clear();
      entry.modseq = changes.highestModSeq;
      entry.uidNext = changes.uidNext;
    })();
    try {
      await entry.refreshing;
    } catch (e) {
      // Gone or unreadable: the next use loads it anew (or fails the same way).
      this.evict(entry.mailboxId, entry);
      throw e;
    } finally {
      entry.refreshing = null;
    }
  }
}

/** Applies the store's changes up to `to` to the entry's summaries (on a copy while views share them). */
function applyDelta(entry: Entry, changed: readonly MessageSummary[], expunged: readonly Uid[], to: number): void {
  if (changed.length > 0 || expunged.length > 0) {
    // Views hold the old array: copy it, and keep it as `previous` when they can take the new one.
    entry.previous = entry.shared && expunged.length === 0 ? { summaries: entry.summaries, modseq: entry.modseq } : null;
    if (entry.shared) {
      entry.summaries = entry.summaries.slice();
      entry.shared = false;
    }
    applyChanges(entry.summaries, changed, expunged);
    entry.facts = null;
    record(entry, { from: entry.modseq, to, changed, expunged });
  }
  if (to !== entry.modseq) entry.merged.clear();
  entry.modseq = to as ModSeq;
}

/** Appends a delta to the journal, dropping the oldest beyond the bounds. */
function record(entry: Entry, delta: Delta): void {
  entry.journal.push(delta);
  entry.journalItems += delta.changed.length + delta.expunged.length;
  while (entry.journal.length > MAX_JOURNAL || (entry.journalItems > MAX_JOURNAL_ITEMS && entry.journal.length > 0)) {
    const old = entry.journal.shift()!;
    entry.journalItems -= old.changed.length + old.expunged.length;
  }
}

/**
 * The journal's changes after `since` as one answer: each message's latest
 * summary, none for a message expunged later, UIDs ascending (what
 * store.changesSince would say; a delta that straddles `since` may repeat
 * changes the caller already has, which sync skips by modseq and UID).
 */
function merge(entry: Entry, since: number): IndexChanges {
  const deltas = entry.journal.filter((d) => d.to > since);
  const base = { uidValidity: entry.uidValidity, uidNext: entry.uidNext, highestModSeq: entry.modseq };
  // Shared, never mutated (see changesSince): the readonly arrays are handed out as they are.
  if (deltas.length === 1) return { ...base, changed: deltas[0]!.changed as MessageSummary[], expunged: deltas[0]!.expunged as Uid[] };
  const changed = new Map<number, MessageSummary>();
  const expunged: Uid[] = [];
  for (const d of deltas) {
    for (const s of d.changed) if (s.modseq > since) changed.set(s.uid, s);
    for (const u of d.expunged) {
      changed.delete(u);
      expunged.push(u);
    }
  }
  return {
    ...base,
    changed: [...changed.values()].sort((a, b) => a.uid - b.uid),
    expunged: expunged.sort((a, b) => a - b),
  };
}

/** Keywords in use and the first unseen message, in one pass. */
function factsOf(summaries: readonly MessageSummary[]): MailboxFacts {
  const keywords = new Set<string>();
  let firstUnseen = -1;
  summaries.forEach((m, i) => {
    for (const f of m.flags) if (!f.startsWith('\\')) keywords.add(f);
    if (firstUnseen < 0 && !m.flags.includes('\\Seen')) firstUnseen = i;
  });
  return { keywords: [...keywords], firstUnseen };
}

/** Applies changed rows and expunges to a UID-sorted summary array, in place. */
function applyChanges(list: MessageSummary[], changed: readonly MessageSummary[], expunged: readonly number[]): void {
  for (const s of changed) {
    const frozen = Object.freeze(s);
    const last = list[list.length - 1];
    if (!last || s.uid > last.uid) {
      list.push(frozen);
      continue;
    }
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.uid < s.uid) lo = mid + 1;
      else hi = mid;
    }
    if (list[lo]?.uid === s.uid) list[lo] = frozen;
  }
  if (expunged.length === 0) return;
  const gone = new Set(expunged);
  let w = 0;
  for (const s of list) if (!gone.has(s.uid)) list[w++] = s;
  list.length = w;
}
