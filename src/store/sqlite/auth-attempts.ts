/**
 * The SQLite store's login-attempt state (AuthAttemptStore): shared by every
 * process on the file. Admission reads and decides inside BEGIN IMMEDIATE, so
 * two processes cannot both take the last slot; a refusal is decided on a
 * plain read first, so refused attempts cost no write.
 */
import type { AuthAttemptCounts, AuthAttemptKey, AuthAttemptOutcome, AuthAttemptStore, AuthAttemptWindows } from '../types.js';
import {
  AUTH_BEGIN_SQL,
  AUTH_COUNTS_SQL,
  AUTH_SWEEP_EVERY,
  type AuthCountsRow,
  authCountsParams,
  authPairKey,
  authSettleStatements,
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
      return this.write(() => {
        const sweep = ++this.settlesSinceSweep >= AUTH_SWEEP_EVERY;
        if (sweep) this.settlesSinceSweep = 0;
        for (const [sql, params] of authSettleStatements(key, now, w, outcome, sweep)) this.authRun(sql, params);
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
