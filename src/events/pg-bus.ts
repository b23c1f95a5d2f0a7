/**
 * Cross-node wake-ups over PostgreSQL LISTEN/NOTIFY (DESIGN "the one idea":
 * a wake-up carries only account, mailbox and modseq; sessions catch up from
 * the store).
 *
 * The PostgreSQL store sends `NOTIFY mailkeep_changes, '<account>:<mailbox>:<modseq>'`
 * inside each mutating transaction, so the server delivers it exactly when
 * the change commits. Every process keeps one dedicated LISTEN connection and
 * relays notifications for mailboxes that have local listeners.
 *
 * Invariants: a notification is never the only way to learn of a change. A
 * periodic catch-up reads the highest modseq of every watched mailbox and
 * announces those that grew (or vanished), so a lost notification (dropped
 * connection, a writer that does not notify) delays a wake-up by at most one
 * interval; after the LISTEN connection is re-established every watched
 * mailbox is woken, since anything may have been missed while it was down.
 * Each (mailbox, modseq) is delivered once per process: the store's own local
 * publish, the echo of its NOTIFY and the catch-up are deduplicated.
 *
 * What counts as new for a fresh subscriber: everything above the highest
 * modseq this process had seen of the mailbox (from any notification or
 * local publish, remembered for a bounded number of mailboxes) when the
 * subscription started. Commits after that point have higher modseqs (a
 * mailbox's modseq order is its commit order), so none is dropped; a
 * notification of an earlier commit that is still in flight may cause one
 * spurious wake-up, which costs a session an empty catch-up, nothing more.
 */
import type pg from 'pg';
import type { AccountId, MailboxId, ModSeq } from '../ids.js';
import { modseq as toModSeq } from '../ids.js';
import type { ChangeBus, ChangeNote } from './change-bus.js';
import { ACCOUNT_CHANNEL } from './change-bus.js';
import type { WatchedMailbox } from './local-bus.js';
import { PgListener } from './pg-listener.js';
import { LocalChangeBus, mailboxKey } from './local-bus.js';

/** The notification channel every mailkeep node listens on. */
export const CHANGE_CHANNEL = 'mailkeep_changes';
/** Default period of the catch-up poll. */
export const DEFAULT_CATCH_UP_MS = 1000;
/** Mailboxes whose last seen modseq is remembered without a subscriber (LRU). */
const REMEMBERED = 10_000;
/** A notification payload: `<account>:<mailbox>:<modseq>`. */
const PAYLOAD = /^(\d{1,15}):(\d{1,15}):(\d{1,15})$/;

export type { ChangeNote } from './change-bus.js';

/** The NOTIFY statement announcing a committed change; built from integers only, so safe to inline. */
export function notifyStatement(change: ChangeNote): string {
  const { accountId, mailboxId, modseq } = change;
  for (const n of [accountId, mailboxId, modseq]) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('change notification fields must be non-negative integers');
  }
  return `NOTIFY ${CHANGE_CHANNEL}, '${accountId}:${mailboxId}:${modseq}'`;
}

/** Parses a notification payload; null for anything malformed. */
export function parseChange(payload: string | undefined): ChangeNote | null {
  const m = PAYLOAD.exec(payload ?? '');
  if (!m) return null;
  return { accountId: Number(m[1]) as AccountId, mailboxId: Number(m[2]) as MailboxId, modseq: Number(m[3]) };
}

/** What the bus needs from the database. */
export interface PgBusSource {
  /** Opens a dedicated, not yet connected client for LISTEN. */
  newClient(): pg.Client;
  /** Current highestModSeq of the given mailboxes, keyed by mailboxKey(); absent = mailbox gone. */
  readModSeqs(mailboxes: readonly WatchedMailbox[]): Promise<Map<string, number>>;
}

/** Options of PgChangeBus. */
export interface PgBusOptions {
  /** Period of the catch-up poll in ms (default DEFAULT_CATCH_UP_MS). */
  catchUpIntervalMs?: number;
  /** Receives background errors (lost LISTEN connection, failed poll, throwing listeners). */
  onError: (err: unknown) => void;
}

interface Watch extends WatchedMailbox {
  /** Highest modseq delivered to local listeners. */
  delivered: number;
  /** Highest modseq known to be committed (delivered or read by a poll); null until first read. */
  known: number | null;
  gone: boolean;
}

/** A ChangeBus spanning every node connected to one PostgreSQL database. */
export class PgChangeBus implements ChangeBus {
  private readonly local: LocalChangeBus;
  private readonly watches = new Map<string, Watch>();
  /** Highest modseq seen per mailbox key, watched or not; oldest first (LRU). */
  private readonly seen = new Map<string, number>();
  private readonly intervalMs: number;
  private readonly onError: (err: unknown) => void;
  /** The LISTEN connection; after a lost one is replaced, everything is caught up (changes may have been missed). */
  private readonly listener: PgListener;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  /** settle() calls not yet sent to the database: they share one read. */
  private settling: { mailboxes: Map<string, WatchedMailbox>; done: Promise<void> } | null = null;

  constructor(
    private readonly source: PgBusSource,
    opts: PgBusOptions,
  ) {
    this.intervalMs = opts.catchUpIntervalMs ?? DEFAULT_CATCH_UP_MS;
    this.onError = opts.onError;
    this.local = new LocalChangeBus({
      onWatch: (a, m) => this.watch(a, m),
      onUnwatch: (a, m) => this.watches.delete(mailboxKey(a, m)),
      onListenerError: opts.onError,
    });
    this.listener = new PgListener({
      newClient: () => source.newClient(),
      channel: CHANGE_CHANNEL,
      onPayload: (payload) => {
        const change = parseChange(payload);
        if (change) this.deliver(change);
      },
      onError: opts.onError,
      onReconnected: () => void this.catchUp(true),
    });
  }

  /** Connects the LISTEN connection (failing if the database is unreachable) and starts the catch-up timer. */
  async start(): Promise<void> {
    await this.listener.start();
    // unref: the poll alone must not keep the process alive.
    this.timer = setInterval(() => void this.catchUp(false), this.intervalMs).unref();
  }

  /** Stops polling and closes the LISTEN connection. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.polling;
    await this.listener.close();
  }

  /** Delivers a committed change to this process's listeners (other nodes learn of it by NOTIFY). */
  publish(accountId: AccountId, mailboxId: MailboxId, modseq: ModSeq): void {
    this.deliver({ accountId, mailboxId, modseq });
  }

  subscribe(accountId: AccountId, mailboxId: MailboxId, listener: (modseq: ModSeq) => void): () => void {
    return this.local.subscribe(accountId, mailboxId, listener);
  }

  /** Records that this process deleted a mailbox and announced it: the catch-up poll need not announce it again. */
  markGone(accountId: AccountId, mailboxId: MailboxId): void {
    const w = this.watches.get(mailboxKey(accountId, mailboxId));
    if (w) w.gone = true;
  }

  /**
   * Reads the mailbox's committed modseq and delivers it if it grew, so every
   * change committed (on any node) before the call has been delivered when
   * this resolves: read-your-writes across nodes without trusting NOTIFY's
   * timing. Calls made before the read is sent share it (IDLE fan-out: one
   * query for all of a process's idlers).
   */
  settle(accountId: AccountId, mailboxId: MailboxId): Promise<void> {
    if (!this.settling) {
      const batch = { mailboxes: new Map<string, WatchedMailbox>(), done: Promise.resolve() };
      // setImmediate: every call of this turn of the event loop joins before the read is sent.
      batch.done = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        this.settling = null;
        const current = await this.source.readModSeqs([...batch.mailboxes.values()]);
        for (const key of batch.mailboxes.keys()) {
          const w = this.watches.get(key);
          if (w) this.announce(w, current.get(key), 'settle');
        }
      });
      this.settling = batch;
    }
    this.settling.mailboxes.set(mailboxKey(accountId, mailboxId), { accountId, mailboxId });
    return this.settling.done;
  }

  /** Number of listeners on one mailbox (0 when none). */
  listenerCount(accountId: AccountId, mailboxId: MailboxId): number {
    return this.local.listenerCount(accountId, mailboxId);
  }

  /**
   * One catch-up step: reads every watched mailbox's modseq and announces the
   * ones that grew or vanished; with `all`, wakes every watched mailbox.
   * Concurrent calls share one read.
   */
  catchUp(all: boolean): Promise<void> {
    if (this.polling && !all) return this.polling;
    const run = (async () => {
      await this.polling;
      const watches = [...this.watches.values()];
      if (watches.length === 0) return;
      const current = await this.source.readModSeqs(watches);
      for (const w of watches) {
        if (this.watches.get(mailboxKey(w.accountId, w.mailboxId)) !== w) continue;
        this.announce(w, current.get(mailboxKey(w.accountId, w.mailboxId)), all ? 'all' : 'grown');
      }
    })().catch(this.onError);
    const tracked = run.finally(() => {
      if (this.polling === tracked) this.polling = null;
    });
    this.polling = tracked;
    return tracked;
  }

  /**
   * Acts on a mailbox's modseq as read from the database (undefined: the
   * mailbox is gone). `mode`: 'grown' announces what grew past the catch-up
   * baseline; 'settle' anything above what was delivered; 'all' wakes anyway.
   */
  private announce(w: Watch, now: number | undefined, mode: 'grown' | 'settle' | 'all'): void {
    if (w.gone) return;
    if (now === undefined) {
      // Deleted (by any node): one last wake-up so its sessions find out.
      w.gone = true;
      this.local.publish(w.accountId, w.mailboxId, toModSeq(Math.max(w.delivered, w.known ?? 0) + 1));
    } else if (mode !== 'grown' || (w.known !== null && now > w.known)) {
      this.deliver({ accountId: w.accountId, mailboxId: w.mailboxId, modseq: now }, mode === 'all');
    } else if (w.known === null) {
      w.known = now;
    }
  }

  /** Delivers a change once: values at or below what was delivered are dropped unless forced. */
  private deliver(change: ChangeNote, force = false): void {
    const key = mailboxKey(change.accountId, change.mailboxId);
    this.remember(key, change.modseq);
    const w = this.watches.get(key);
    if (!w) return;
    if (!force && change.modseq <= w.delivered) return;
    w.delivered = Math.max(w.delivered, change.modseq);
    w.known = Math.max(w.known ?? 0, change.modseq);
    this.local.publish(change.accountId, change.mailboxId, toModSeq(change.modseq));
  }

  private remember(key: string, modseq: number): void {
    const before = this.seen.get(key);
    if (before !== undefined && before >= modseq) return;
    this.seen.delete(key);
    this.seen.set(key, modseq);
    if (this.seen.size > REMEMBERED) this.seen.delete(this.seen.keys().next().value!);
  }

  private watch(accountId: AccountId, mailboxId: MailboxId): void {
    const key = mailboxKey(accountId, mailboxId);
    const last = this.seen.get(key);
    const w: Watch = { accountId, mailboxId, delivered: last ?? 0, known: last ?? null, gone: false };
    this.watches.set(key, w);
    if (last !== undefined) return;
    // Baseline for the catch-up poll. Notifications are not compared with it, so a
    // commit racing with this read is still announced when its NOTIFY arrives.
    this.source.readModSeqs([w]).then((m) => {
      const value = m.get(mailboxKey(accountId, mailboxId));
      if (w.known === null && value !== undefined) w.known = value;
    }, this.onError);
  }
}

/**
 * Reads highestModSeq of many mailboxes in one query (keyed by mailboxKey);
 * for an account channel (ACCOUNT_CHANNEL), the account's namespace version.
 */
export async function readModSeqs(pool: pg.Pool, mailboxes: readonly WatchedMailbox[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (mailboxes.length === 0) return out;
  const res = await pool.query<{ account_id: number; mailbox_id: number; highest_modseq: number }>(
    `WITH w AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS w (account_id, mailbox_id))
     SELECT m.account_id, m.mailbox_id, m.highest_modseq
     FROM w JOIN mailboxes m ON m.account_id = w.account_id AND m.mailbox_id = w.mailbox_id
     UNION ALL
     SELECT a.account_id, $3::bigint, coalesce(n.version, 0)
     FROM w JOIN accounts a ON a.account_id = w.account_id AND w.mailbox_id = $3
     LEFT JOIN namespace_versions n ON n.account_id = a.account_id`,
    [mailboxes.map((m) => m.accountId), mailboxes.map((m) => m.mailboxId), ACCOUNT_CHANNEL],
  );
  for (const row of res.rows) out.set(mailboxKey(row.account_id as AccountId, row.mailbox_id as MailboxId), row.highest_modseq);
  return out;
}
