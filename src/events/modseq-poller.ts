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
 * The timer bounds the wake-up delay of idlers; bus.settle() polls on demand,
 * so whoever must be current (the shared mailbox index) never waits for it.
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
}

/** Polls a ModSeqSource and publishes grown modseqs on a LocalChangeBus. */
export class ModSeqPoller {
  private readonly known = new Map<string, Known>();
  private lastVersion: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly source: ModSeqSource,
    private readonly bus: LocalChangeBus,
    private readonly onError: (err: unknown) => void,
  ) {
    this.lastVersion = source.dataVersion();
    // settle() on the bus polls at once, so a caller learns of every commit made before it asked.
    bus.setSettler(() => this.poll());
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
    const current = this.source.readModSeqs([{ accountId, mailboxId }]).get(key);
    this.known.set(key, { accountId, mailboxId, modseq: current ?? null });
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

  /** One poll step: publishes every watched mailbox whose modseq grew (or that vanished). */
  poll(): void {
    if (this.known.size === 0) return;
    const version = this.source.dataVersion();
    if (version === this.lastVersion) return;
    this.lastVersion = version;
    // Snapshot: listeners may (un)subscribe while we publish.
    const entries = [...this.known.entries()];
    const current = this.source.readModSeqs(entries.map(([, e]) => e));
    for (const [key, entry] of entries) {
      if (entry.modseq === null) continue;
      const now = current.get(key);
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
