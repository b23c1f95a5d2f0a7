/**
 * Login-attempt state in SQL (store/types.ts AuthAttemptStore), written once
 * for SQLite and PostgreSQL: the statements use numbered parameters ($1 …),
 * which both accept, and plain SQL both run the same way.
 *
 * Tables (installation-wide, like `counters`; see the schema files):
 * - auth_failures(kind, key, failures, window_start): kind 'ip', 'account' and
 *   'pair' count failures in a fixed window from window_start (epoch ms);
 *   kind 'trusted' marks a pair's last successful login at window_start.
 * - auth_in_flight(attempt_id, ip, pair, expires_at): admitted attempts not yet
 *   settled; a row stops counting at expires_at, should its process die.
 * Expired rows are swept now and then by settle, so the tables hold about
 * what one window (and the trust period) of attempts left behind.
 */
import type { AuthAttemptCounts, AuthAttemptKey, AuthAttemptOutcome, AuthAttemptWindows } from '../types.js';

/** The pair key: an address holds no space, so the first space ends it. */
export const authPairKey = (key: AuthAttemptKey): string => `${key.ip} ${key.account}`;

/** $1 ip, $2 account, $3 pair, $4 failures counted since, $5 now, $6 trusted since. */
export const AUTH_COUNTS_SQL = `
  SELECT
    coalesce((SELECT failures FROM auth_failures WHERE kind = 'ip' AND key = $1 AND window_start > $4), 0) AS ip_failures,
    (SELECT count(*) FROM auth_in_flight WHERE ip = $1 AND expires_at > $5) AS ip_in_flight,
    coalesce((SELECT failures FROM auth_failures WHERE kind = 'account' AND key = $2 AND window_start > $4), 0) AS account_failures,
    coalesce((SELECT failures FROM auth_failures WHERE kind = 'pair' AND key = $3 AND window_start > $4), 0) AS pair_failures,
    (SELECT count(*) FROM auth_in_flight WHERE pair = $3 AND expires_at > $5) AS pair_in_flight,
    (SELECT count(*) FROM auth_failures WHERE kind = 'trusted' AND key = $3 AND window_start > $6) AS trusted`;

/** The parameters of AUTH_COUNTS_SQL. */
export function authCountsParams(key: AuthAttemptKey, now: number, w: AuthAttemptWindows): [string, string, string, number, number, number] {
  return [key.ip, key.account, authPairKey(key), now - w.windowMs, now, now - w.trustMs];
}

/** A row of AUTH_COUNTS_SQL (PostgreSQL returns count(*) as a string). */
export interface AuthCountsRow {
  ip_failures: number | string;
  ip_in_flight: number | string;
  account_failures: number | string;
  pair_failures: number | string;
  pair_in_flight: number | string;
  trusted: number | string;
}

/** Reads a row of AUTH_COUNTS_SQL. */
export function toAuthCounts(row: AuthCountsRow): AuthAttemptCounts {
  return {
    ipFailures: Number(row.ip_failures),
    ipInFlight: Number(row.ip_in_flight),
    accountFailures: Number(row.account_failures),
    pairFailures: Number(row.pair_failures),
    pairInFlight: Number(row.pair_in_flight),
    trusted: Number(row.trusted) > 0,
  };
}

/** $1 ip, $2 pair, $3 expires_at. */
export const AUTH_BEGIN_SQL = 'INSERT INTO auth_in_flight (ip, pair, expires_at) VALUES ($1, $2, $3)';

/** $1 pair: ends one attempt in flight for the pair. */
const AUTH_END_SQL = 'DELETE FROM auth_in_flight WHERE attempt_id = (SELECT attempt_id FROM auth_in_flight WHERE pair = $1 ORDER BY expires_at LIMIT 1)';

/** $1 kind, $2 key, $3 now, $4 window start before which the count restarts. */
const AUTH_FAIL_SQL = `
  INSERT INTO auth_failures (kind, key, failures, window_start) VALUES ($1, $2, 1, $3)
  ON CONFLICT (kind, key) DO UPDATE SET
    failures = CASE WHEN auth_failures.window_start > $4 THEN auth_failures.failures + 1 ELSE 1 END,
    window_start = CASE WHEN auth_failures.window_start > $4 THEN auth_failures.window_start ELSE $3 END`;

/** $1 kind, $2 key. */
const AUTH_CLEAR_SQL = 'DELETE FROM auth_failures WHERE kind = $1 AND key = $2';

/** $1 pair, $2 now. */
const AUTH_TRUST_SQL = `
  INSERT INTO auth_failures (kind, key, failures, window_start) VALUES ('trusted', $1, 1, $2)
  ON CONFLICT (kind, key) DO UPDATE SET window_start = $2`;

/** Sweeps: $1 failures counted since, $2 trusted since, $3 now. Each is one statement (PostgreSQL prepares one at a time). */
const AUTH_SWEEP_SQL = [
  "DELETE FROM auth_failures WHERE kind <> 'trusted' AND window_start <= $1",
  "DELETE FROM auth_failures WHERE kind = 'trusted' AND window_start <= $1",
  'DELETE FROM auth_in_flight WHERE expires_at <= $1',
] as const;

/** The parameter of each AUTH_SWEEP_SQL statement. */
function authSweepParams(now: number, w: AuthAttemptWindows): [number, number, number] {
  return [now - w.windowMs, now - w.trustMs, now];
}

/**
 * The statements a settle runs in its transaction, in order, with their
 * parameters: end the attempt in flight; then after a failure count it for the
 * address, the account and the pair, after a success clear the address's and
 * the pair's failures and trust the pair; with `sweep`, the sweeps.
 */
export function authSettleStatements(
  key: AuthAttemptKey,
  now: number,
  w: AuthAttemptWindows,
  outcome: AuthAttemptOutcome,
  sweep: boolean,
): [string, unknown[]][] {
  const pair = authPairKey(key);
  const statements: [string, unknown[]][] = [[AUTH_END_SQL, [pair]]];
  if (outcome === 'failed') {
    for (const [kind, k] of [
      ['ip', key.ip],
      ['account', key.account],
      ['pair', pair],
    ] as const)
      statements.push([AUTH_FAIL_SQL, [kind, k, now, now - w.windowMs]]);
  } else if (outcome === 'succeeded') {
    statements.push([AUTH_CLEAR_SQL, ['ip', key.ip]], [AUTH_CLEAR_SQL, ['pair', pair]], [AUTH_TRUST_SQL, [pair, now]]);
  }
  if (sweep) authSweepParams(now, w).forEach((param, i) => statements.push([AUTH_SWEEP_SQL[i]!, [param]]));
  return statements;
}

/** Settles sweep expired rows once in this many calls (per process). */
export const AUTH_SWEEP_EVERY = 100;
