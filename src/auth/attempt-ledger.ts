/**
 * Where login attempts are counted: failures per address, per account and per
 * (address, account) pair in fixed windows, attempts in flight, and the pairs
 * that have logged in before. The throttle's policy (auth/throttle.ts) reads
 * these counts; a ledger only keeps them.
 *
 * The interface is asynchronous so that a store-backed ledger (an SQLite table
 * shared by the worker processes of one node, a PostgreSQL table shared by a
 * cluster) is a drop-in for the in-memory one of a single process.
 *
 * Invariant: `admit` decides and counts in one atomic step. The decision is a
 * pure function of the counts (the ledger's `Judge`, given when it is made),
 * run inside that step, so no two attempts can both see the last free slot
 * (issue 18, finding 8). A ledger in another process (the cluster's primary,
 * server/cluster-limits.ts) holds its own judge: a function cannot travel.
 */
import type { AuthAttemptCounts, AuthAttemptKey, AuthAttemptOutcome, AuthAttemptStore, AuthAttemptWindows } from '../store/types.js';

/** The counts one attempt is judged by (defined with the store, which can keep them too). */
export type AttemptCounts = AuthAttemptCounts;
/** How an admitted attempt ended. */
export type AttemptOutcome = AuthAttemptOutcome;
/** One login attempt's keys (already normalized: addressKey, accountKey). */
export type AttemptKey = AuthAttemptKey;

/** A verdict on one attempt: admit, refuse, or wait for an attempt in flight from the same address to end. */
export interface Judgement {
  admit: boolean;
  /** Not admitted only because of attempts in flight: the failures alone are under the limits. */
  wait: boolean;
  /** Goes first at the hash gate (a known pair, or an address without failures). */
  clean: boolean;
}

/** The throttle's policy as a pure function of the counts (auth/throttle.ts `judge` with its settings). */
export type Judge = (counts: AttemptCounts) => Judgement;

/** Shared attempt state behind the throttle. */
export interface AttemptLedger {
  /**
   * Atomically reads the counts for `key`, judges them, and when admitted
   * counts the attempt as in flight (address and pair) before returning.
   */
  admit(key: AttemptKey, now: number): Promise<Judgement>;
  /** Ends an admitted attempt; returns the counts after recording it (the tarpit reads them). */
  settle(key: AttemptKey, now: number, outcome: AttemptOutcome): Promise<AttemptCounts>;
}

/** The ledger's time settings, from config `auth-throttle`. */
export interface LedgerWindows {
  windowMs: number;
  trustMs: number;
  /** Cap on remembered keys per table (address, account, pair, trusted pair). */
  maxEntries: number;
}

interface Window {
  count: number;
  start: number;
}

/** Counts per key in fixed windows that start at a key's first event; LRU-bounded. */
class WindowTable {
  // A Map iterates in insertion order; re-inserting on every event makes the first key the least recently touched.
  private readonly entries = new Map<string, Window>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  count(key: string, now: number): number {
    const w = this.entries.get(key);
    if (w === undefined) return 0;
    if (now - w.start < this.windowMs) return w.count;
    this.entries.delete(key);
    return 0;
  }

  add(key: string, now: number): void {
    const count = this.count(key, now) + 1;
    const start = count === 1 ? now : this.entries.get(key)!.start;
    this.entries.delete(key);
    this.entries.set(key, { count, start });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Attempts in flight per key; a key leaves when its count returns to zero, so the size is bounded by open attempts. */
class InFlight {
  private readonly counts = new Map<string, number>();

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  add(key: string, delta: 1 | -1): void {
    const n = this.get(key) + delta;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }

  get size(): number {
    return this.counts.size;
  }
}

/** The key of an (address, account) pair: an address holds no space, so the first space ends it. */
export const pairKey = ({ ip, account }: AttemptKey): string => `${ip} ${account}`;

/** The ledger of one process: every step is synchronous, hence atomic on the event loop. */
export class MemoryAttemptLedger implements AttemptLedger {
  private readonly ips: WindowTable;
  private readonly accounts: WindowTable;
  private readonly pairs: WindowTable;
  /** Last successful login per pair, as a window of length trustMs that restarts on each success. */
  private readonly trusted: WindowTable;
  private readonly ipsInFlight = new InFlight();
  private readonly pairsInFlight = new InFlight();

  constructor(
    windows: LedgerWindows,
    private readonly judge: Judge,
  ) {
    this.ips = new WindowTable(windows.windowMs, windows.maxEntries);
    this.accounts = new WindowTable(windows.windowMs, windows.maxEntries);
    this.pairs = new WindowTable(windows.windowMs, windows.maxEntries);
    this.trusted = new WindowTable(windows.trustMs, windows.maxEntries);
  }

  async admit(key: AttemptKey, now: number): Promise<Judgement> {
    const verdict = this.judge(this.counts(key, now));
    if (verdict.admit) {
      this.ipsInFlight.add(key.ip, 1);
      this.pairsInFlight.add(pairKey(key), 1);
    }
    return verdict;
  }

  async settle(key: AttemptKey, now: number, outcome: AttemptOutcome): Promise<AttemptCounts> {
    const pair = pairKey(key);
    this.ipsInFlight.add(key.ip, -1);
    this.pairsInFlight.add(pair, -1);
    if (outcome === 'failed') {
      this.ips.add(key.ip, now);
      this.accounts.add(key.account, now);
      this.pairs.add(pair, now);
    } else if (outcome === 'succeeded') {
      this.ips.clear(key.ip);
      this.pairs.clear(pair);
      this.trusted.clear(pair);
      this.trusted.add(pair, now);
    }
    return this.counts(key, now);
  }

  /** Remembered keys per table (for tests and metrics). */
  get size(): { ips: number; accounts: number; pairs: number; trusted: number; inFlight: number } {
    return {
      ips: this.ips.size,
      accounts: this.accounts.size,
      pairs: this.pairs.size,
      trusted: this.trusted.size,
      inFlight: this.ipsInFlight.size + this.pairsInFlight.size,
    };
  }

  private counts(key: AttemptKey, now: number): AttemptCounts {
    const pair = pairKey(key);
    return {
      ipFailures: this.ips.count(key.ip, now),
      ipInFlight: this.ipsInFlight.get(key.ip),
      accountFailures: this.accounts.count(key.account, now),
      pairFailures: this.pairs.count(pair, now),
      pairInFlight: this.pairsInFlight.get(pair),
      trusted: this.trusted.count(pair, now) > 0,
    };
  }
}

/** The ledger of every process on one store: an SQLite file's processes, or a PostgreSQL cluster's nodes. */
export class StoreAttemptLedger implements AttemptLedger {
  constructor(
    private readonly store: AuthAttemptStore,
    private readonly windows: AuthAttemptWindows,
    private readonly judge: Judge,
  ) {}

  admit(key: AttemptKey, now: number): Promise<Judgement> {
    return this.store.admitAuthAttempt(key, now, this.windows, this.judge);
  }

  settle(key: AttemptKey, now: number, outcome: AttemptOutcome): Promise<AttemptCounts> {
    return this.store.settleAuthAttempt(key, now, this.windows, outcome);
  }
}
