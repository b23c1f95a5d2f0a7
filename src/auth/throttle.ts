/**
 * Login throttling per client address and per account name (RFC 9051 §11.4
 * leaves the defence against password guessing to servers), and the gate in
 * front of password hashing (auth/hash-gate.ts).
 *
 * Policy (issue 18, findings 7, 8, 23), with N = `maxFailuresPerIp`:
 * - An address is refused at N failures in its window. An attempt counts as
 *   in flight before it is hashed, and one that would make failures plus
 *   attempts in flight exceed N waits for those to end: a burst of
 *   simultaneous attempts gets N verifications, then refusals if they failed,
 *   or more verifications if they succeeded (honest clients open several
 *   connections at once).
 * - An account with `maxFailuresPerAccount` failures in its window is not
 *   locked: it is refused only from addresses that have failed for it (or
 *   have an attempt for it in flight). An address that has not failed for
 *   it still gets its password checked, so a guesser cannot lock the owner out.
 * - A pair (address, account) that logged in within `trustedDays` is judged
 *   by its own failures only, so the owner gets in from a NAT address whose
 *   other users failed, and behind an address a flood refuses.
 * - A success clears its address's and pair's failures (honest users behind
 *   one NAT); the account's count stays, since only failing addresses feel it.
 *   A pair is refused at N failures of its own, so guesses laundered through
 *   one valid account's successes still stop at N per target account.
 * - Failures beyond `freeFailures` are answered after a growing delay (the
 *   tarpit): with the defaults 0, 0, 1 s, 2 s, 4 s, 8 s, then 15 s.
 * Refusals are answered NO [UNAVAILABLE] (RFC 5530) without checking the password.
 * IPv6 clients are counted per /64, the block a single host usually controls.
 *
 * The counts live in an AttemptLedger: in memory for one process, in the
 * primary's memory for the workers of one `serve` (server/cluster-limits.ts),
 * or with `sharedState` in the store (SQLite for the processes on one file,
 * PostgreSQL for a cluster of nodes). Memory is bounded: each in-memory table holds at
 * most `maxEntries` keys; store rows expire with their window; account names
 * are truncated to a fixed length.
 */
import { isIP } from 'node:net';
import type { Config } from '../config/schema.js';
import type { AuthAttemptStore, AuthAttemptWindows } from '../store/types.js';
import {
  type AttemptCounts,
  type AttemptKey,
  type AttemptLedger,
  type AttemptOutcome,
  type Judge,
  type Judgement,
  MemoryAttemptLedger,
  StoreAttemptLedger,
} from './attempt-ledger.js';
import { HashGate } from './hash-gate.js';

/** The throttling settings (config `auth-throttle`). */
export type ThrottleSettings = Config['authThrottle'];

/**
 * The answer to "may this attempt proceed?"; an admitted attempt must be
 * finished exactly once. Refused: `throttled` by failures, or `busy` after
 * waiting too long for the address's attempts in flight.
 */
export type Admission = { admit: false; reason: 'throttled' | 'busy' } | { admit: true; key: AttemptKey; clean: boolean };

/** Longest wait for an address's attempts in flight to end before answering "busy". */
const ADMISSION_WAIT_MS = 30_000;
/** How often a waiting attempt looks again without a local wake-up (a shared ledger's other processes). */
const RECHECK_MS = 1_000;

/** Wake-ups per address when one of its attempts ends; bounded by the attempts waiting (each holds a connection). */
class AddressSignal {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves at the next wake(address), or after ms. */
  next(address: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(address);
      if (set === undefined) this.waiters.set(address, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(address) === set) this.waiters.delete(address);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  wake(address: string): void {
    for (const done of [...(this.waiters.get(address) ?? [])]) done();
  }
}

/** Longest account name kept as a key: names are client input. */
const MAX_ACCOUNT_KEY = 256;

const DAY_MS = 86_400_000;

/** An attempt in flight in a shared store stops counting after this, should its process die: longer than any queue wait plus hash. */
const IN_FLIGHT_MS = 300_000;

/** The time spans of the settings, for a ledger. */
export function attemptWindows(s: ThrottleSettings): AuthAttemptWindows {
  return { windowMs: s.windowSeconds * 1000, trustMs: s.trustedDays * DAY_MS, inFlightMs: IN_FLIGHT_MS };
}

/**
 * The throttle the settings ask for: its counts with `sharedState` in the store (every process and node),
 * else in `cluster` when given (the primary of `serve --workers N`, server/cluster-limits.ts), else in this
 * process's memory.
 */
export function createThrottle(settings: ThrottleSettings, store: AuthAttemptStore, cluster?: AttemptLedger): AuthThrottle {
  if (settings.sharedState) return new AuthThrottle(settings, new StoreAttemptLedger(store, attemptWindows(settings), judgeBy(settings)));
  return new AuthThrottle(settings, cluster);
}

/** The in-memory ledger of the settings (one process's, or the cluster primary's). */
export function memoryLedger(settings: ThrottleSettings): MemoryAttemptLedger {
  return new MemoryAttemptLedger({ ...attemptWindows(settings), maxEntries: settings.maxEntries }, judgeBy(settings));
}

/** The policy above as a pure function of the counts, with the settings' limits (run inside the ledger's atomic step). */
export function judgeBy(s: ThrottleSettings): Judge {
  const N = s.maxFailuresPerIp;
  return (c: AttemptCounts): Judgement => {
    const accountOver = c.accountFailures >= s.maxFailuresPerAccount;
    const within = (pairBusy: number, ipBusy: number): boolean => pairBusy < N && (c.trusted || (ipBusy < N && (!accountOver || pairBusy === 0)));
    const admit = within(c.pairFailures + c.pairInFlight, c.ipFailures + c.ipInFlight);
    // Honest clients often log in several at once from one address (a mail client's connections, a NAT, a webmail host).
    const wait = !admit && within(c.pairFailures, c.ipFailures);
    return { admit, wait, clean: c.trusted || c.ipFailures === 0 };
  };
}

/** Login throttle and hash gate shared by IMAP, POP3 (and any other login path) of one process. */
export class AuthThrottle {
  /** Password verifications go through this gate. */
  readonly hashes: HashGate;
  private readonly ledger: AttemptLedger;
  private readonly settled = new AddressSignal();

  /** `ledger` defaults to this process's memory; `now` is injectable for tests. */
  constructor(
    private readonly settings: ThrottleSettings,
    ledger?: AttemptLedger,
    private readonly now: () => number = Date.now,
  ) {
    this.ledger = ledger ?? memoryLedger(settings);
    this.hashes = new HashGate({
      concurrency: settings.maxConcurrentHashes,
      perAddress: settings.maxConcurrentHashesPerIp,
      queueLength: settings.hashQueueLength,
    });
  }

  /**
   * Call before verifying an attempt from `ip` for `account`; when admitted,
   * the attempt counts as in flight. An attempt held back only by attempts in
   * flight waits for them (at most ADMISSION_WAIT_MS), so a burst gets the
   * limit's worth of verifications and then what their outcomes allow: more
   * after successes, refusals after failures (issue 18, finding 8).
   */
  async begin(ip: string, account: string): Promise<Admission> {
    const key = { ip: addressKey(ip), account: accountKey(account) };
    const deadline = Date.now() + ADMISSION_WAIT_MS;
    for (;;) {
      const verdict = await this.ledger.admit(key, this.now());
      if (verdict.admit) return { admit: true, key, clean: verdict.clean };
      const left = deadline - Date.now();
      if (!verdict.wait) return { admit: false, reason: 'throttled' };
      if (left <= 0) return { admit: false, reason: 'busy' };
      // Another process's settle is not announced here: look again now and then.
      await this.settled.next(key.ip, Math.min(left, RECHECK_MS));
    }
  }

  /** Ends an admitted attempt; returns how long to wait before answering a failure (the tarpit). */
  async finish(admission: Admission & { admit: true }, outcome: AttemptOutcome): Promise<number> {
    // This address's queued attempts lose their priority at once, before the ledger's round trip.
    if (outcome === 'failed') this.hashes.demote(admission.key.ip);
    const c = await this.ledger.settle(admission.key, this.now(), outcome);
    this.settled.wake(admission.key.ip);
    return outcome === 'failed' ? this.delayFor(Math.max(c.ipFailures, c.pairFailures, c.accountFailures)) : 0;
  }

  private delayFor(failures: number): number {
    const { freeFailures, baseDelayMs, maxDelayMs } = this.settings;
    if (failures <= freeFailures) return 0;
    return Math.min(maxDelayMs, baseDelayMs * 2 ** (failures - freeFailures - 1));
  }
}

/** Account names compare case-insensitively (store/types.ts); keys are bounded in length and free of NUL (PostgreSQL text). */
function accountKey(account: string): string {
  return account.slice(0, MAX_ACCOUNT_KEY).toLowerCase().replace(/\0/g, '\uFFFD');
}

/** IPv4 as is (also when IPv4-mapped); IPv6 reduced to its /64 prefix. */
export function addressKey(address: string): string {
  const plain = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(plain);
  if (mapped) return mapped[1]!;
  if (isIP(plain) !== 6) return plain;
  const [head = '', tail] = plain.split('::');
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  // An embedded IPv4 tail (RFC 4291 §2.2) stands for two groups.
  const width = (g: string[]): number => g.reduce((n, x) => n + (x.includes('.') ? 2 : 1), 0);
  const h = groups(head);
  const t = groups(tail ?? '');
  const full = tail === undefined ? h : [...h, ...new Array<string>(Math.max(0, 8 - width(h) - width(t))).fill('0'), ...t];
  return `${full
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
