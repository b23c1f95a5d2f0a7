/**
 * The PostgreSQL store's login-attempt state (AuthAttemptStore): shared by
 * every node of a cluster. Admission reads and decides in a transaction that
 * holds an advisory lock on the client address, so two nodes cannot both take
 * an address's last slot; a refusal is decided on a plain read first, so
 * refused attempts cost no transaction.
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
import type { PgBase } from './core.js';
import { transaction } from './pool.js';
import { firstOf, type Queryable } from './sql.js';

/** The advisory-lock class of login attempts (the two-key form keeps them apart from the migration lock). */
const AUTH_LOCK_CLASS = 18;

async function countsOf(c: Queryable, key: AuthAttemptKey, now: number, w: AuthAttemptWindows): Promise<AuthAttemptCounts> {
  const row = await firstOf<AuthCountsRow>(c, AUTH_COUNTS_SQL, authCountsParams(key, now, w));
  if (!row) throw new Error('auth counts query returned nothing');
  return toAuthCounts(row);
}

/** Adds the AuthAttemptStore role to the PostgreSQL store. */
export function withAuthAttempts<B extends PgBase>(Base: B) {
  return class PgAuthAttempts extends Base implements AuthAttemptStore {
    private settlesSinceSweep = 0;

    async admitAuthAttempt<V extends { admit: boolean }>(
      key: AuthAttemptKey,
      now: number,
      w: AuthAttemptWindows,
      decide: (c: AuthAttemptCounts) => V,
    ): Promise<V> {
      const early = decide(await countsOf(this.pool, key, now, w));
      if (!early.admit) return early;
      return transaction(this.pool, async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [AUTH_LOCK_CLASS, key.ip]);
        const verdict = decide(await countsOf(c, key, now, w));
        if (verdict.admit) await c.query(AUTH_BEGIN_SQL, [key.ip, authPairKey(key), now + w.inFlightMs]);
        return { result: verdict };
      });
    }

    async settleAuthAttempt(key: AuthAttemptKey, now: number, w: AuthAttemptWindows, outcome: AuthAttemptOutcome): Promise<AuthAttemptCounts> {
      const sweep = ++this.settlesSinceSweep >= AUTH_SWEEP_EVERY;
      if (sweep) this.settlesSinceSweep = 0;
      const statements = authSettleStatements(key, now, w, outcome, sweep);
      return transaction(this.pool, async (c) => {
        for (const [sql, params] of statements) await c.query(sql, params);
        return { result: await countsOf(c, key, now, w) };
      });
    }
  };
}
