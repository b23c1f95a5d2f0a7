/**
 * Relays the change bus between the worker processes of one server: a commit
 * announced in worker B is published to the local listeners of every other
 * worker within one IPC round trip through the primary (DESIGN "the one
 * idea": the wake-up only; whoever wakes reads the store).
 *
 * Invariants: the store's own cross-process fallback (SQLite's modseq poller,
 * PostgreSQL's NOTIFY and catch-up) stays in place, so a relayed wake-up is
 * never the only way to learn of a change and a lost one costs at most the
 * fallback's delay; `settle()` keeps reading the store, so its guarantee does
 * not depend on the relay. A batch holds at most MAX_BATCH changes.
 */
import type { ChangeNote } from './change-bus.js';
import type { PeerLink, RelayedChange } from './peer-link.js';

/** Changes sent in one IPC message at most; a group commit of more is split. */
const MAX_BATCH = 512;

/** Sends this worker's commits to its siblings and delivers theirs here. */
export class BusRelay {
  private pending: RelayedChange[] = [];
  private scheduled = false;

  /** `deliver` publishes a sibling's commit to this process's listeners (MailStore.relayCommits). */
  constructor(
    private readonly link: PeerLink,
    deliver: (change: ChangeNote) => void,
  ) {
    link.onMessage((m) => {
      if (m.kind !== 'bus') return;
      for (const [accountId, mailboxId, modseq] of m.changes.slice(0, MAX_BATCH)) {
        deliver({ accountId, mailboxId, modseq } as ChangeNote);
      }
    });
  }

  /** Queues one local commit; the commits of one synchronous run (a group commit) travel together. */
  send(change: ChangeNote): void {
    this.pending.push([change.accountId, change.mailboxId, change.modseq]);
    if (this.pending.length >= MAX_BATCH) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      // A microtask, not a timer: the batch leaves as soon as the committing code yields.
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const changes = this.pending;
    this.pending = [];
    this.link.send({ kind: 'bus', changes });
  }
}
