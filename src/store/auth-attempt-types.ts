/**
 * The login-attempt role of the store (AuthAttemptStore) and the values it
 * works with: the throttle's counts shared by every process and node
 * (auth/throttle.ts decides; store/shared/auth-attempts.ts holds the SQL).
 */

/** The counts one login attempt is judged by (auth/throttle.ts); keys are normalized by auth/. */
export interface AuthAttemptCounts {
  /** Failures from the address in its current window, any account. */
  ipFailures: number;
  /** Admitted attempts from the address that have not finished. */
  ipInFlight: number;
  /** Failures for the account in its current window, any address. */
  accountFailures: number;
  /** Failures for the account from this address in their current window. */
  pairFailures: number;
  /** Admitted attempts for the account from this address that have not finished. */
  pairInFlight: number;
  /** The account has logged in from this address within the trust period. */
  trusted: boolean;
}

/** One login attempt's keys: a normalized address (IPv6 /64) and a lower-cased, bounded account name. */
export interface AuthAttemptKey {
  ip: string;
  account: string;
}

/** How an admitted attempt ended. `abandoned`: never verified (server busy, connection gone); nothing is counted. */
export type AuthAttemptOutcome = 'failed' | 'succeeded' | 'abandoned';

/** The time spans login-attempt state is kept for. */
export interface AuthAttemptWindows {
  /** Failure counts: a fixed window from a key's first failure. */
  windowMs: number;
  /** How long a success makes its (address, account) pair trusted. */
  trustMs: number;
  /** An attempt in flight stops counting after this, should its process die before finishing it. */
  inFlightMs: number;
}

/**
 * Login-attempt state shared by every process and node on the store (issue
 * 18, finding 8). Installation-wide like `counters`: keyed by address and
 * name, not by account id (an unknown name has no account).
 */
export interface AuthAttemptStore {
  /** Atomically reads the counts, asks `decide`, and when it admits records the attempt as in flight. */
  admitAuthAttempt<V extends { admit: boolean }>(
    key: AuthAttemptKey,
    now: number,
    windows: AuthAttemptWindows,
    decide: (c: AuthAttemptCounts) => V,
  ): Promise<V>;
  /** Ends an admitted attempt and returns the counts after it. */
  settleAuthAttempt(key: AuthAttemptKey, now: number, windows: AuthAttemptWindows, outcome: AuthAttemptOutcome): Promise<AuthAttemptCounts>;
}
