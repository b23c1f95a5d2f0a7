/**
 * Cross-process wake-ups without a message broker: several mailkeep processes
 * sharing one database poll a cheap "something was committed elsewhere"
 * counter and, when it moves, compare the watched mailboxes' highestModSeq
 * with what they last saw, publishing the ones that grew (DESIGN "the one idea":
 * a wake-up, never the data).
 *
 * Invariants: a baseline is read when a mailbox gets its first local listener,
 * so any commit after a subscriber subscribed is announced; a watched mailbox
 * that disappears (deleted elsewhere) is announced once, so its sessions notice.
 * The timer bounds the wake-up delay of idlers; bus.settle() polls the one
 * mailbox it names on demand, so whoever must be current (the shared mailbox
 * index) never waits for it, and a sibling worker's commit costs a command one
 * modseq read, not one per watched mailbox (the relay wakes the other
 * mailboxes' listeners; the timer is their fallback).
 *
 * Each watched mailbox remembers the `data_version` at which its modseq was
 * last read (read before the modseq, so a commit racing with the read moves
 * the counter again): while the counter has not moved since, nothing was
 * committed elsewhere that it could miss.
 */
import type { AccountId, MailboxId } from '../ids.js';
import { modseq } from '../ids.js';
import type { LocalChangeBus, WatchedMailbox } from './local-bus.js';
import { mailboxKey } from './local-bus.js';

/** What the poller asks of a backend. */
export interface ModSeqSource {
  /** A number that changes whenever another connection commits (SQLite: PRAGMA data_version). */
  dataVersion(): number;
  /** Current highestModSeq of the given mailboxes, keyed by mailboxKey(); absent = mailbox gone. */
  readModSeqs(mailboxes: readonly WatchedMailbox[]): Map<string, number>;
}

interface Known extends WatchedMailbox {
  /** Last modseq seen or published; null once the mailbox was seen gone. */
  modseq: number | null;
  /** The data version read just before `modseq` was last read from the source. */
  checkedAt: number;
}

/** Polls a ModSeqSource and publishes grown modseqs on a LocalChangeBus. */
export class ModSeqPoller {
  private readonly known = new Map<string, Known>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly source: ModSeqSource,
    private readonly bus: LocalChangeBus,
    private readonly onError: (err: unknown) => void,
  ) {
    // settle() on the bus polls its mailbox at once, so a caller learns of every commit to it made before it asked.
    bus.setSettler((accountId, mailboxId) => this.pollOne(accountId, mailboxId));
  }

  /** Starts polling every intervalMs; the timer never keeps the process alive. */
  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.pollSafely(), intervalMs);
    this.timer.unref();
  }

  /** Stops polling. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Records the current modseq of a newly watched mailbox as its baseline. */
  watch(accountId: AccountId, mailboxId: MailboxId): void {
    const key = mailboxKey(accountId, mailboxId);
    const checkedAt = this.source.dataVersion();
    const current = this.source.readModSeqs([{ accountId, mailboxId }]).get(key);
    this.known.set(key, { accountId, mailboxId, modseq: current ?? null, checkedAt });
  }

  /** Forgets a mailbox that has no local listeners any more. */
  unwatch(accountId: AccountId, mailboxId: MailboxId): void {
    this.known.delete(mailboxKey(accountId, mailboxId));
  }

  /** Raises a baseline after a local commit, so it is not announced twice. */
  note(accountId: AccountId, mailboxId: MailboxId, value: number): void {
    const entry = this.known.get(mailboxKey(accountId, mailboxId));
    if (entry && entry.modseq !== null && value > entry.modseq) entry.modseq = value;
  }

  /** One poll step: publishes every watched mailbox whose modseq grew (or that vanished) since it was last read. */
  poll(): void {
    if (this.known.size === 0) return;
    const version = this.source.dataVersion();
    // Snapshot: listeners may (un)subscribe while we publish.
    const stale = [...this.known.values()].filter((e) => e.modseq !== null && e.checkedAt !== version);
    if (stale.length > 0) this.check(stale, version);
  }

  /** poll() for one mailbox (bus.settle): the others stay for the timer, the relay or their own settle. */
  pollOne(accountId: AccountId, mailboxId: MailboxId): void {
    const entry = this.known.get(mailboxKey(accountId, mailboxId));
    if (!entry || entry.modseq === null) return;
    const version = this.source.dataVersion();
    if (entry.checkedAt !== version) this.check([entry], version);
  }

  /** Reads the entries' modseqs (after `version` was read) and publishes the grown and the vanished ones. */
  private check(entries: readonly Known[], version: number): void {
    const current = this.source.readModSeqs(entries);
    for (const entry of entries) {
      entry.checkedAt = version;
      if (entry.modseq === null) continue;
      const now = current.get(mailboxKey(entry.accountId, entry.mailboxId));
      if (now === undefined) {
        // Deleted elsewhere: one last wake-up so sessions find out.
        const last = entry.modseq;
        entry.modseq = null;
        this.bus.publish(entry.accountId, entry.mailboxId, modseq(last + 1));
      } else if (now > entry.modseq) {
        entry.modseq = now;
        this.bus.publish(entry.accountId, entry.mailboxId, modseq(now));
      }
    }
  }

  private pollSafely(): void {
    try {
      this.poll();
    } catch (err) {
      this.onError(err);
    }
  }
}
