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
      const pair = authPairKey(key);
      const sweep = ++this.settlesSinceSweep >= AUTH_SWEEP_EVERY;
      if (sweep) this.settlesSinceSweep = 0;
      return transaction(this.pool, async (c) => {
        await c.query(AUTH_END_SQL, [pair]);
        if (outcome === 'failed') {
          for (const [kind, k] of [
            ['ip', key.ip],
            ['account', key.account],
            ['pair', pair],
          ] as const)
            await c.query(AUTH_FAIL_SQL, [kind, k, now, now - w.windowMs]);
        } else if (outcome === 'succeeded') {
          await c.query(AUTH_CLEAR_SQL, ['ip', key.ip]);
          await c.query(AUTH_CLEAR_SQL, ['pair', pair]);
          await c.query(AUTH_TRUST_SQL, [pair, now]);
        }
        if (sweep) {
          const params = authSweepParams(now, w);
          for (let i = 0; i < AUTH_SWEEP_SQL.length; i++) await c.query(AUTH_SWEEP_SQL[i]!, [params[i]]);
        }
        return { result: await countsOf(c, key, now, w) };
      });
    }
  };
}
