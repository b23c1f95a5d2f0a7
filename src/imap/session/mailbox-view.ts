/**
 * One session's view of its selected mailbox: the sequence-number ↔ UID map the
 * client knows (RFC 9051 §2.3.1), plus what the client has not been told yet.
 *
 * Invariants: `messages` is sorted by UID and message N has sequence number
 * N+1; a message leaves the view only when its EXPUNGE is sent (so a message
 * expunged by another session stays fetchable until then, RFC 2180 §4.1);
 * lookups are binary searches, never linear scans.
 */
import type { MailboxId, ModSeq, SeqNum, Uid } from '../../ids.js';
import type { MessageSummary } from '../../store/types.js';

/** Per-message state as the session knows it. */
export interface ViewMessage {
  uid: Uid;
  modseq: ModSeq;
  flags: string[];
  size: number;
  /** Expunged in the store; EXPUNGE not yet sent. */
  expunged: boolean;
}

/** A selected mailbox as one session sees it. */
export class MailboxView {
  readonly messages: ViewMessage[];
  /** UIDs at or above this that this session claimed as \Recent (RFC 3501 §2.3.2). */
  private readonly recent = new Set<number>();

  constructor(
    readonly mailboxId: MailboxId,
    readonly name: string,
    readonly uidValidity: number,
    public uidNext: Uid,
    /** Highest modseq whose changes this view has applied. */
    public modseq: ModSeq,
    summaries: MessageSummary[],
  ) {
    this.messages = summaries.map((s) => ({ uid: s.uid, modseq: s.modseq, flags: s.flags, size: s.size, expunged: false }));
  }

  /** EXISTS as the client knows it. */
  get exists(): number {
    return this.messages.length;
  }

  /** Index of a UID in `messages`, or -1. */
  indexOfUid(uid: number): number {
    let lo = 0;
    let hi = this.messages.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const u = this.messages[mid]!.uid;
      if (u < uid) lo = mid + 1;
      else if (u > uid) hi = mid - 1;
      else return mid;
    }
    return -1;
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

  /** The message at a sequence number. */
  at(seq: number): ViewMessage | undefined {
    return this.messages[seq - 1];
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
    let n = 0;
    for (const m of this.messages) if (this.recent.has(m.uid)) n++;
    return n;
  }

  /** Appends new messages (UIDs above every known one). */
  addMessages(summaries: MessageSummary[]): void {
    for (const s of summaries) {
      this.messages.push({ uid: s.uid, modseq: s.modseq, flags: s.flags, size: s.size, expunged: false });
    }
  }

  /** Removes the message at an index (after its EXPUNGE was sent). */
  removeAt(index: number): void {
    const m = this.messages[index];
    if (m) this.recent.delete(m.uid);
    this.messages.splice(index, 1);
  }
}
