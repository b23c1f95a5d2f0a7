/**
 * The verified-credential cache (issue 21), like Dovecot's auth cache: after
 * a full verification succeeds, later logins with the same password for the
 * same stored credential are accepted by a keyed hash held in memory instead
 * of another 32 MiB scrypt. On disk the hash stays memory-hard.
 *
 * What is kept: HMAC-SHA-256, under a key drawn at random when the process
 * starts, of (account id, the stored hash string, the prepared password);
 * never the password. An entry names the credential that was verified (the
 * main password's hash today; an app password's hash can be another entry for
 * the same account), so it matches only while that exact stored hash is the
 * account's: a `mailkeep user passwd` (new salt, new string) or `user del` in
 * any process or node makes it unreachable at once. The caller reads the
 * account from the store on every login (one indexed read) and asks with
 * what it read, so a change is never missed; the control channel's
 * `credentials-changed` (server/control-handlers.ts) also drops the account's
 * entries in every worker and node at once (forget()).
 *
 * Entries expire `ttlMs` after the verification (not refreshed by hits, as in
 * Dovecot); at most `maxEntries` are kept, the least recently used going
 * first. A ttl of 0 turns the cache off.
 *
 * Timing: a hit answers a correct password without the hash, so it is faster
 * than a miss. That tells a client only what the tagged OK tells it anyway
 * (the password was right); every wrong password still misses, costs a full
 * hash and counts as a failure, so guessing gains nothing. Dovecot's cache
 * behaves the same.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { AccountId } from '../ids.js';

/** The cache's limits (config `auth`). */
export interface CredentialCacheSettings {
  /** How long a verification is trusted; 0 disables the cache. */
  ttlMs: number;
  maxEntries: number;
}

/** Hits and misses since start (tests and metrics observe the cache through them). */
export interface CredentialCacheStats {
  hits: number;
  misses: number;
}

/** In-memory, per-process record of recently verified credentials. */
export class CredentialCache {
  private readonly key = randomBytes(32);
  /** MAC → expiry time and account; a Map iterates in insertion order, so re-inserting on a hit makes its first key the least recently used. */
  private readonly entries = new Map<string, { expires: number; accountId: AccountId }>();
  readonly stats: CredentialCacheStats = { hits: 0, misses: 0 };

  /** `now` is injectable for tests. */
  constructor(
    private readonly settings: CredentialCacheSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** False when the settings turn the cache off (then it holds nothing and callers may skip the lookup). */
  get enabled(): boolean {
    return this.settings.ttlMs > 0;
  }

  /** Whether `password` was verified against `storedHash` of the account within the ttl. */
  holds(accountId: AccountId, password: string, storedHash: string): boolean {
    if (!this.enabled) return false;
    const mac = this.mac(accountId, password, storedHash);
    const entry = this.entries.get(mac);
    if (entry !== undefined) this.entries.delete(mac);
    if (entry === undefined || entry.expires <= this.now()) {
      this.stats.misses++;
      return false;
    }
    this.entries.set(mac, entry);
    this.stats.hits++;
    return true;
  }

  /** Records a successful full verification of `password` against `storedHash`; call it for nothing else. */
  remember(accountId: AccountId, password: string, storedHash: string): void {
    if (!this.enabled) return;
    const mac = this.mac(accountId, password, storedHash);
    this.entries.delete(mac);
    this.entries.set(mac, { expires: this.now() + this.settings.ttlMs, accountId });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.settings.maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  /**
   * Drops every verification of the account (the control channel's `credentials-changed`, sent on a
   * password change, deletion or disable): explicit, beside the stored-hash match that already guards
   * each lookup. A walk of at most maxEntries, on a rare event.
   */
  forget(accountId: AccountId): void {
    for (const [mac, entry] of this.entries) if (entry.accountId === accountId) this.entries.delete(mac);
  }

  /** Entries held, expired ones included until they are evicted or looked up. */
  get size(): number {
    return this.entries.size;
  }

  private mac(accountId: AccountId, password: string, storedHash: string): string {
    const hmac = createHmac('sha256', this.key);
    // Each field length-prefixed, so no two different triples feed the HMAC the same bytes.
    // The password as typed: another form of the same password only misses and pays a hash.
    for (const field of [String(accountId), storedHash, password]) {
      const bytes = Buffer.from(field, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      hmac.update(length).update(bytes);
    }
    return hmac.digest('base64');
  }
}
