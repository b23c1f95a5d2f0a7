/**
 * One session's view of its selected mailbox: the sequence-number ↔ UID map the
 * client knows (RFC 9051 §2.3.1), plus what the client has not been told yet.
 *
 * Invariants: `messages` is sorted by UID and message N has sequence number
 * N+1; its elements are immutable summaries shared with the process-wide
 * mailbox index (a change replaces an element, never mutates it), and the
 * array itself is shared until the view first changes, so a SELECT copies
 * nothing, and a view still holding the index's array takes the index's
 * next one, so an append seen by many idling sessions copies nothing per
 * session; a message leaves the view only when its EXPUNGE is sent, so a
 * message expunged by another session stays fetchable until then (RFC 2180
 * §4.1); lookups are binary searches, never linear scans; the view changes
 * only in the sync step (sync.ts), never in a command; every keyword in the
 * view's messages is in `keywordsInFlags`, the keywords of the last FLAGS response
 * the client got (RFC 9051 §7.3.5).
 */
import type { MailboxId, ModSeq, SeqNum, Uid } from '../../ids.js';
import { ITEMS_PER_STEP, type Steps } from '../../store/shared/background.js';
import type { MessageSummary } from '../../store/types.js';

/** Per-message state as the session knows it (immutable; replaced on change). */
export type ViewMessage = Readonly<MessageSummary>;

/** What a command left for the sync step to report, or not. */
export interface OwedFlags {
  /** UIDs whose flags must be reported even if unchanged. */
  report: ReadonlySet<number>;
  /** UID → modseq of the client's own .SILENT change, not to be reported while it is the latest. */
  silenced: ReadonlyMap<number, number>;
}

const NOTHING_OWED: OwedFlags = { report: new Set(), silenced: new Map() };

/** A selected mailbox as one session sees it. */
export class MailboxView {
  /** UIDs this session claimed as \Recent (RFC 3501 §2.3.2). */
  private readonly recent = new Set<number>();
  /** Expunged in the store; EXPUNGE not yet sent. */
  private readonly expunged = new Set<number>();
  /** UIDs whose flags the next sync must report even if unchanged (a STORE's own set). */
  private owedFlags = new Set<number>();
  /** UID → modseq of a .SILENT STORE's own change, which the next sync leaves unreported. */
  private silencedFlags = new Map<number, number>();
  /** Keywords the client was told of in FLAGS (SELECT's and every later one). */
  readonly keywordsInFlags: Set<string>;

  constructor(
    readonly mailboxId: MailboxId,
    readonly name: string,
    readonly uidValidity: number,
    public uidNext: Uid,
    /** Highest modseq whose changes this view has applied. */
    public modseq: ModSeq,
    /** The index's array at SELECT: shared until this view first changes (copy on write). */
    private arr: ViewMessage[],
    /** The keywords in use at SELECT, which its FLAGS response lists. */
    keywords: Iterable<string>,
  ) {
    this.keywordsInFlags = new Set(keywords);
  }

  /** The messages as the client knows them; index N has sequence number N+1. */
  get messages(): readonly ViewMessage[] {
    return this.arr;
  }

  /** Copies the array before the first change, so the shared index array is never touched. */
  private own(): ViewMessage[] {
    if (!this.owned) {
      this.arr = this.arr.slice();
      this.owned = true;
    }
    return this.arr;
  }

  private owned = false;

  /** EXISTS as the client knows it. */
  get exists(): number {
    return this.messages.length;
  }

  /** Index of a UID in `messages`, or -1. */
  indexOfUid(uid: number): number {
    const i = this.lowerBound(uid);
    return i < this.messages.length && this.messages[i]!.uid === uid ? i : -1;
  }

  /** Index of the first message with UID ≥ uid. */
  lowerBound(uid: number): number {
    let lo = 0;
    let hi = this.messages.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.messages[mid]!.uid < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Sequence number of a UID, or 0 when absent. */
  seqOf(uid: number): SeqNum {
    return (this.indexOfUid(uid) + 1) as SeqNum;
  }

  /** The largest UID in the view, or 0. */
  get maxUid(): number {
    return this.messages.length ? this.messages[this.messages.length - 1]!.uid : 0;
  }

  /** Marks UIDs as recent for this session. */
  markRecent(uids: Iterable<number>): void {
    for (const u of uids) this.recent.add(u);
  }

  /** Whether the message is \Recent for this session. */
  isRecent(uid: number): boolean {
    return this.recent.has(uid);
  }

  /** Number of \Recent messages in the view. */
  get recentCount(): number {
    return this.recent.size;
  }

  /** Notes that a message is gone from the store (its EXPUNGE is still owed). */
  markExpunged(uid: number): void {
    if (this.indexOfUid(uid) >= 0) this.expunged.add(uid);
  }

  /** Whether the message is gone from the store but still in the client's view. */
  isExpunged(uid: number): boolean {
    return this.expunged.has(uid);
  }

  /** Whether any EXPUNGE is owed. */
  get hasExpunged(): boolean {
    return this.expunged.size > 0;
  }

  /** Replaces a message's summary after a flag change (the sync step's job); returns false when it is not in the view. */
  update(s: MessageSummary): boolean {
    const i = this.indexOfUid(s.uid);
    if (i < 0) return false;
    this.own()[i] = s;
    return true;
  }

  /** Records UIDs whose flags the next sync must report (RFC 9051 §6.4.6 STORE, RFC 7162 §3.1.3). */
  owe(uids: Iterable<number>): void {
    for (const u of uids) this.owedFlags.add(u);
  }

  /** Records a change the client made with .SILENT and knows the outcome of: not reported while it is the latest. */
  silence(uid: number, modseq: number): void {
    this.silencedFlags.set(uid, modseq);
  }

  /** The client was just told this message's current flags (a FETCH response with FLAGS): nothing owed for it. */
  told(uid: number): void {
    if (this.owedFlags.size > 0) this.owedFlags.delete(uid);
  }

  /** What is owed, left in place (a sync that defers its flag lines). */
  peekOwed(): OwedFlags {
    return { report: this.owedFlags, silenced: this.silencedFlags };
  }

  /** Takes what the command recorded for the sync that reports it (handed over, not copied: a big STORE owes 100,000). */
  takeOwed(): OwedFlags {
    if (this.owedFlags.size === 0 && this.silencedFlags.size === 0) return NOTHING_OWED;
    const owed = { report: this.owedFlags, silenced: this.silencedFlags };
    this.owedFlags = new Set();
    this.silencedFlags = new Map();
    return owed;
  }

  /** Whether the command recorded anything for the sync. */
  get owesFlags(): boolean {
    return this.owedFlags.size > 0 || this.silencedFlags.size > 0;
  }

  /**
   * Takes the index's array after a change instead of applying the change to
   * a copy of its own: the caller has checked that this view still holds the
   * array the change applies to and owes no EXPUNGE.
   */
  takeIndexArray(shared: readonly ViewMessage[]): void {
    this.arr = shared as ViewMessage[];
    this.owned = false;
  }

  /** Appends new messages (UIDs above every known one). */
  addMessages(summaries: readonly MessageSummary[]): void {
    const arr = this.own();
    for (const s of summaries) arr.push(s);
  }

  /**
   * Removes every message whose EXPUNGE is owed, in one pass (with pause
   * points, see Steps); returns their former indices and UIDs in descending
   * order, the order in which EXPUNGE responses keep each sequence number
   * valid (RFC 9051 §7.5.1). The view is consistent again once it returns.
   */
  *removeExpunged(): Steps<Array<{ index: number; uid: number }>> {
    if (this.expunged.size === 0) return [];
    const removed: Array<{ index: number; uid: number }> = [];
    const arr = this.own();
    let w = 0;
    for (let r = 0; r < arr.length; r++) {
      const m = arr[r]!;
      if (this.expunged.has(m.uid)) {
        removed.push({ index: r, uid: m.uid });
        this.recent.delete(m.uid);
      } else {
        arr[w++] = m;
      }
      if (r % ITEMS_PER_STEP === ITEMS_PER_STEP - 1) yield;
    }
    arr.length = w;
    this.expunged.clear();
    return removed.reverse();
  }
}
