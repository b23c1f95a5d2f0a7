/**
 * The app-password role of the store (AppPasswordStore): revocable second
 * passwords of an account for one device or program each (auth/app-passwords.ts
 * generates and checks them; `mailkeep user app-password` manages them).
 *
 * Invariants every implementation keeps: ids are never reused (a session's
 * credential `app:<id>` names one app password forever); a live name is unique
 * per account (case-insensitively); a revocation, and a change of the
 * account's require-app-passwords or disabled state, raises the account's
 * channel (events/change-bus.ts ACCOUNT_CHANNEL) in the same transaction, so
 * every process and node hears of it and ends the sessions it no longer allows.
 */
import type { AccountId } from '../ids.js';
import type { LastLogin } from './types.js';

/** One app password as stored (its hash never leaves auth/). */
export interface AppPassword {
  /** Unique in the installation, never reused. */
  id: number;
  accountId: AccountId;
  /** What the owner calls it ("Phone"); unique among the account's live ones. */
  name: string;
  /** The password's first group, stored in clear to find the one hash to check (auth/app-passwords.ts). */
  lookup: string;
  /** Encoded hash (auth/password.ts) of the whole password. */
  hash: string;
  /** Protocols it may log in to ('imap', 'pop3', 'managesieve'). */
  protocols: string[];
  createdAt: Date;
  /** Refused from then on; null: never expires. */
  expiresAt: Date | null;
  /** When it was revoked; null while not. */
  revokedAt: Date | null;
  /** The last login with it, or null when it was never used. */
  lastUsed: LastLogin | null;
}

/** What `addAppPassword` stores. */
export interface NewAppPassword {
  name: string;
  lookup: string;
  hash: string;
  protocols: string[];
  expiresAt: Date | null;
}

/** How many app passwords an account keeps. */
export interface AppPasswordLimits {
  /** Live ones (neither revoked nor expired); one more is refused with StoreError LIMIT. */
  maxLive: number;
  /** Retired ones (revoked or expired) kept for `list`; older ones are deleted. */
  keepRetired: number;
}

/** App passwords and the account's require-app-passwords switch. */
export interface AppPasswordStore {
  /**
   * Adds an app password at `now`. ALREADYEXISTS when a live one has the name (an expired one of
   * that name is retired), LIMIT when the account has `maxLive` live ones, NONEXISTENT for an unknown account.
   */
  addAppPassword(accountId: AccountId, entry: NewAppPassword, now: Date, limits: AppPasswordLimits): Promise<AppPassword>;
  /** Every kept app password of the account (live and retired), oldest first. */
  listAppPasswords(accountId: AccountId): Promise<AppPassword[]>;
  /** Revokes the live app password of that name (case-insensitive) at `now`; NONEXISTENT when there is none. */
  revokeAppPassword(accountId: AccountId, name: string, now: Date, limits: AppPasswordLimits): Promise<AppPassword>;
  /** Replaces an app password's hash (re-hashed with stronger settings after a login); nothing when it is gone. */
  setAppPasswordHash(accountId: AccountId, id: number, hash: string): Promise<void>;
  /** Records a successful login with an app password (its lastUsed); nothing when it is gone. */
  recordAppPasswordUse(accountId: AccountId, id: number, use: LastLogin): Promise<void>;
  /** Refuses (on) or allows (off) the main password on IMAP and POP3; NONEXISTENT for an unknown account. */
  setRequireAppPasswords(accountId: AccountId, on: boolean): Promise<void>;
}

/** Whether an app password may log in at `now` (not revoked, not expired). */
export function isLive(p: AppPassword, now: Date): boolean {
  return p.revokedAt === null && (p.expiresAt === null || p.expiresAt.getTime() > now.getTime());
}
