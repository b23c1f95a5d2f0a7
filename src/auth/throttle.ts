/**
 * Failed-authentication throttling per client address and per account name
 * (RFC 9051 §11.4 leaves the defence against password guessing to servers).
 *
 * Model: each key (client address, account name) counts its failures in a
 * fixed window that starts at its first failure and lasts `windowSeconds`.
 * - Failures beyond `freeFailures` are answered after a growing delay:
 *   with the defaults 0, 0, 1 s, 2 s, 4 s, 8 s, then 15 s (maxDelayMs).
 * - A key with `maxFailuresPerIp` / `maxFailuresPerAccount` failures in its
 *   window is refused outright until the window ends; the caller answers
 *   `NO [UNAVAILABLE]` (RFC 5530) without checking the password.
 * - A successful login clears its account's count; the address keeps its own,
 *   so one valid account cannot launder guesses against others.
 * IPv6 clients are counted per /64, the block a single host usually controls.
 *
 * Invariant: memory is bounded. Each of the two tables holds at most
 * `maxEntries` keys (least recently failed evicted first), expired entries
 * are dropped when met, and account names are truncated to a fixed length.
 * Known trade-off: a guesser can lock a named account for one window;
 * the address limit still bounds what one guesser can do.
 */
import { isIP } from 'node:net';
import type { Config } from '../config/schema.js';

/** The throttling settings (config `auth-throttle`). */
export type ThrottleSettings = Config['authThrottle'];

/** The answer to "may this attempt proceed?". */
export interface ThrottleVerdict {
  /** Too many recent failures: answer NO [UNAVAILABLE] without verifying. */
  refuse: boolean;
  /** Delay earned by the failures so far (for callers that wait before verifying rather than after failing). */
  delayMs: number;
}

/** Longest account name kept as a key: names are client input. */
const MAX_ACCOUNT_KEY = 256;

interface Window {
  count: number;
  start: number;
}

/** Failure counts per key in fixed windows, LRU-bounded. */
class FailureTable {
  // A Map iterates in insertion order; re-inserting on every failure makes the first key the least recently failed.
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

  add(key: string, now: number): number {
    const count = this.count(key, now) + 1;
    const start = count === 1 ? now : this.entries.get(key)!.start;
    this.entries.delete(key);
    this.entries.set(key, { count, start });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return count;
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Failed-login throttle shared by IMAP, POP3 (and any other login path) of one process. */
export class AuthThrottle {
  private readonly ips: FailureTable;
  private readonly accounts: FailureTable;

  /** `now` is injectable for tests. */
  constructor(
    private readonly settings: ThrottleSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.ips = new FailureTable(settings.windowSeconds * 1000, settings.maxEntries);
    this.accounts = new FailureTable(settings.windowSeconds * 1000, settings.maxEntries);
  }

  /** Call before verifying an attempt from `ip` for `account`. */
  check(ip: string, account: string): ThrottleVerdict {
    const now = this.now();
    const byIp = this.ips.count(addressKey(ip), now);
    const byAccount = this.accounts.count(accountKey(account), now);
    return {
      refuse: byIp >= this.settings.maxFailuresPerIp || byAccount >= this.settings.maxFailuresPerAccount,
      delayMs: this.delayFor(Math.max(byIp, byAccount)),
    };
  }

  /** Records a failed attempt; returns how long to wait before answering it (the tarpit). */
  fail(ip: string, account: string): number {
    const now = this.now();
    const byIp = this.ips.add(addressKey(ip), now);
    const byAccount = this.accounts.add(accountKey(account), now);
    return this.delayFor(Math.max(byIp, byAccount));
  }

  /** Records a successful login: the account's failures are forgiven. */
  succeed(_ip: string, account: string): void {
    this.accounts.clear(accountKey(account));
  }

  /** Number of remembered addresses and account names (for tests and metrics). */
  get size(): { ips: number; accounts: number } {
    return { ips: this.ips.size, accounts: this.accounts.size };
  }

  private delayFor(failures: number): number {
    const { freeFailures, baseDelayMs, maxDelayMs } = this.settings;
    if (failures <= freeFailures) return 0;
    return Math.min(maxDelayMs, baseDelayMs * 2 ** (failures - freeFailures - 1));
  }
}

/** Account names compare case-insensitively (store/types.ts); keys are bounded in length. */
function accountKey(account: string): string {
  return account.slice(0, MAX_ACCOUNT_KEY).toLowerCase();
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
