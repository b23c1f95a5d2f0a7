/**
 * IDLE (RFC 2177, RFC 9051 §6.3.13): while idling, every change the change bus
 * announces for the selected mailbox is synced and sent at once.
 *
 * Wake-ups are served by one queue for the whole process, a few sessions at
 * a time: a change seen by 2,000 idlers then costs one index refresh and
 * 2,000 short syncs in a row, each written as soon as it is done. (With a
 * task per idler, the promise steps of all of them interleaved, and the
 * first write waited for every idler's steps.) A session whose socket is
 * congested finishes writing on its own, so it never holds up the others.
 */
import { bad } from '../errors.js';
import type { ImapSession } from '../session/session.js';
import { command } from './spec.js';

/** One idling session's wake-ups. */
class Idler {
  /** The sync in progress and then its write, until that has drained. */
  private tail: Promise<void> | null = null;
  private wokenMeanwhile = false;
  private stopped = false;

  constructor(readonly session: ImapSession) {}

  /**
   * Syncs now, or once more after the sync or congested write in progress;
   * resolves once synced. Returns nothing when it finished at once: an idler
   * after a change's first syncs and writes without a promise step.
   */
  sync(): Promise<void> | undefined {
    if (this.tail) {
      this.wokenMeanwhile = true;
      return;
    }
    const synced = this.session.sync('full');
    if (!synced) {
      if (!this.session.flushNow()) this.follow(this.session.flush());
      return;
    }
    this.follow(synced.then(() => this.session.flush()));
    return synced;
  }

  /** Holds further wake-ups until `work` (a sync, a congested write) is done, then serves them. */
  private follow(work: Promise<void>): void {
    this.tail = work
      .catch(() => undefined)
      .finally(() => {
        this.tail = null;
        if (this.wokenMeanwhile && !this.stopped) wake(this);
        this.wokenMeanwhile = false;
      });
  }

  /** No more wake-ups; resolves once nothing is in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    queued.delete(this);
    while (this.tail) await this.tail;
  }
}

/** Idlers with a wake-up pending, served in order. */
const queued = new Set<Idler>();
/**
 * Loops serving the queue at once: a few, so that idlers of other mailboxes
 * whose sync waits on a store round trip (PostgreSQL) do not wait in line.
 */
const QUEUE_LOOPS = 4;
let serving = 0;

function wake(idler: Idler): void {
  queued.add(idler);
  if (serving < QUEUE_LOOPS) void serveQueue();
}

async function serveQueue(): Promise<void> {
  serving++;
  try {
    // One live iterator: it visits idlers queued meanwhile and skips those another loop took. A
    // fresh values() per idler walked past every deleted slot before it: quadratic in a big fan-out.
    for (const idler of queued) {
      // Removed first: a change during its sync queues it again.
      queued.delete(idler);
      const synced = idler.sync();
      if (synced) await synced.catch((err: unknown) => idler.session.log.error({ err }, 'sync during IDLE failed'));
    }
  } finally {
    serving--;
  }
}

/** RFC 2177 — IDLE. */
export const idle = command({
  name: 'IDLE',
  states: ['authenticated', 'selected'],
  parse: () => undefined,
  async run(inv) {
    const session = inv.session;
    session.write(Buffer.from('+ idling\r\n'));
    const idler = new Idler(session);
    session.onMailboxChange(() => wake(idler));
    const heartbeatMs = session.config.imap.idleHeartbeatSeconds * 1000;
    const heartbeat = setInterval(() => {
      session.untagged('OK Still here');
      void session.flush();
    }, heartbeatMs);
    try {
      await idler.sync();
      const line = await session.readLine();
      if (line === null) return { answered: true };
      if (line.toString('latin1').trim().toUpperCase() !== 'DONE') throw bad('Expected DONE to end IDLE');
    } finally {
      clearInterval(heartbeat);
      session.onMailboxChange(null);
      // A wake-up not served yet is covered by the sync after this command.
      await idler.stop();
    }
    return { text: 'IDLE terminated' };
  },
});
