/**
 * The SQLite store's login-attempt state (AuthAttemptStore): shared by every
 * process on the file. Admission reads and decides inside BEGIN IMMEDIATE, so
 * two processes cannot both take the last slot; a refusal is decided on a
 * plain read first, so refused attempts cost no write.
 */
import type { AuthAttemptCounts, AuthAttemptKey, AuthAttemptOutcome, AuthAttemptStore, AuthAttemptWindows } from '../types.js';
import {
  AUTH_BEGIN_SQL,
  AUTH_CLEAR_SQL,
  AUTH_COUNTS_SQL,
  AUTH_END_SQL,
  AUTH_FAIL_SQL,
  AUTH_SWEEP_EVERY,
  AUTH_SWEEP_SQL,
  AUTH_TRUST_SQL,
  type AuthCountsRow,
  authCountsParams,
  authPairKey,
  authSweepParams,
  toAuthCounts,
} from '../shared/auth-attempts.js';
import type { SqliteBase } from './core.js';
import { NumberedStatements } from './numbered.js';

/** Adds the AuthAttemptStore role to the SQLite store. */
export function withAuthAttempts<B extends SqliteBase>(Base: B) {
  return class SqliteAuthAttempts extends Base implements AuthAttemptStore {
    private authStatements: NumberedStatements | undefined;
    private settlesSinceSweep = 0;

    async admitAuthAttempt<V extends { admit: boolean }>(
      key: AuthAttemptKey,
      now: number,
      w: AuthAttemptWindows,
      decide: (c: AuthAttemptCounts) => V,
    ): Promise<V> {
      const early = decide(this.authCounts(key, now, w));
      if (!early.admit) return early;
      return this.write(() => {
        const verdict = decide(this.authCounts(key, now, w));
        if (verdict.admit) this.authRun(AUTH_BEGIN_SQL, [key.ip, authPairKey(key), now + w.inFlightMs]);
        return verdict;
      });
    }

    async settleAuthAttempt(key: AuthAttemptKey, now: number, w: AuthAttemptWindows, outcome: AuthAttemptOutcome): Promise<AuthAttemptCounts> {
      const pair = authPairKey(key);
      return this.write(() => {
        this.authRun(AUTH_END_SQL, [pair]);
        if (outcome === 'failed') {
          for (const [kind, k] of [
            ['ip', key.ip],
            ['account', key.account],
            ['pair', pair],
          ] as const)
            this.authRun(AUTH_FAIL_SQL, [kind, k, now, now - w.windowMs]);
        } else if (outcome === 'succeeded') {
          this.authRun(AUTH_CLEAR_SQL, ['ip', key.ip]);
          this.authRun(AUTH_CLEAR_SQL, ['pair', pair]);
          this.authRun(AUTH_TRUST_SQL, [pair, now]);
        }
        if (++this.settlesSinceSweep >= AUTH_SWEEP_EVERY) {
          this.settlesSinceSweep = 0;
          authSweepParams(now, w).forEach((param, i) => this.authRun(AUTH_SWEEP_SQL[i]!, [param]));
        }
        return this.authCounts(key, now, w);
      });
    }

    private authCounts(key: AuthAttemptKey, now: number, w: AuthAttemptWindows): AuthAttemptCounts {
      this.authStatements ??= new NumberedStatements(this.db);
      return toAuthCounts(this.authStatements.get<AuthCountsRow>(AUTH_COUNTS_SQL, authCountsParams(key, now, w))!);
    }

    private authRun(sql: string, values: readonly unknown[]): void {
      this.authStatements ??= new NumberedStatements(this.db);
      this.authStatements.run(sql, values);
    }
  };
}
