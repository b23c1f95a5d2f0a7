/**
 * The shared mailbox index (DESIGN "Shared mailbox index"): the summaries
 * (UID, modseq, flags, size) of each mailbox some session has open live once
 * per process, refreshed from the store by modseq. SELECT takes a snapshot —
 * one array copy — instead of reading every row from the store.
 *
 * Invariants: an entry reflects the store exactly as of its `modseq`;
 * summaries are immutable (shared with views); refreshes of one mailbox are
 * serialized; the number of cached mailboxes is bounded (LRU).
 */
import type { AccountId, MailboxId, ModSeq } from '../../ids.js';
import type { MailStore, MessageSummary } from '../../store/types.js';

/** Mailboxes kept in memory per process. */
const MAX_CACHED = 256;

interface Entry {
  accountId: AccountId;
  uidValidity: number;
  modseq: ModSeq;
  /** Never changed in place once handed out: a refresh with changes works on a copy. */
  summaries: MessageSummary[];
  /** Whether `summaries` was handed to a view since it was last copied. */
  shared: boolean;
  /** SELECT's per-mailbox facts for this `summaries`, computed on first need. */
  facts: MailboxFacts | null;
  refreshing: Promise<void> | null;
}

/** What SELECT reports besides the counts (RFC 9051 §6.3.2 FLAGS, RFC 3501 UNSEEN). */
export interface MailboxFacts {
  /** Keywords in use, in first-seen order. */
  keywords: string[];
  /** Index of the first message without \Seen, or -1. */
  firstUnseen: number;
}

/** A consistent copy of a mailbox's summaries as of `modseq`. */
export interface IndexSnapshot {
  uidValidity: number;
  modseq: ModSeq;
  /** Shared with the index: never mutate it (MailboxView copies on its first change). */
  summaries: MessageSummary[];
  facts: MailboxFacts;
}

/** Per-process cache of mailbox indexes. */
export class MailboxIndexCache {
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly store: MailStore) {}

  /** A fresh snapshot of a mailbox (brought up to date with the store first). */
  async snapshot(accountId: AccountId, mailboxId: MailboxId): Promise<IndexSnapshot> {
    let entry = this.entries.get(mailboxId);
    if (entry && entry.accountId !== accountId) entry = undefined;
    if (!entry) entry = await this.load(accountId, mailboxId);
    else await this.refresh(entry, mailboxId);
    // LRU: most recently used last.
    this.entries.delete(mailboxId);
    this.entries.set(mailboxId, entry);
    while (this.entries.size > MAX_CACHED) this.entries.delete(this.entries.keys().next().value!);
    entry.shared = true;
    entry.facts ??= factsOf(entry.summaries);
    return { uidValidity: entry.uidValidity, modseq: entry.modseq, summaries: entry.summaries, facts: entry.facts };
  }

  private async load(accountId: AccountId, mailboxId: MailboxId): Promise<Entry> {
    // Modseq first: changes racing with the read are applied again, idempotently, by the next refresh.
    const mb = await this.store.getMailboxById(accountId, mailboxId);
    if (!mb) throw new Error('mailbox vanished');
    const summaries = (await this.store.listSummaries(accountId, mailboxId)).map((s) => Object.freeze(s));
    const entry: Entry = { accountId, uidValidity: mb.uidValidity, modseq: mb.highestModSeq, summaries, shared: false, facts: null, refreshing: null };
    await this.refresh(entry, mailboxId);
    return entry;
  }

  private async refresh(entry: Entry, mailboxId: MailboxId): Promise<void> {
    while (entry.refreshing) await entry.refreshing;
    entry.refreshing = (async () => {
      const changes = await this.store.changesSince(entry.accountId, mailboxId, entry.modseq);
      if (changes.uidValidity !== entry.uidValidity) {
        const fresh = await this.store.listSummaries(entry.accountId, mailboxId);
        entry.summaries = fresh.map((s) => Object.freeze(s));
        entry.uidValidity = changes.uidValidity;
        entry.shared = false;
        entry.facts = null;
      } else if (changes.changed.length > 0 || changes.expunged.length > 0) {
        if (entry.shared) {
          entry.summaries = entry.summaries.slice();
          entry.shared = false;
        }
        applyChanges(entry.summaries, changes.changed, changes.expunged);
        entry.facts = null;
      }
      entry.modseq = changes.highestModSeq;
    })();
    try {
      await entry.refreshing;
    } finally {
      entry.refreshing = null;
    }
  }
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
