/**
 * The PostgreSQL store's Sieve memory: semantics as in the SQLite store
 * (../sqlite/sieve-memory.ts). One statement per call, so concurrent
 * deliveries need no lock: the last expiry written wins, as either is right.
 */
import type { AccountId } from '../../ids.js';
import type { SieveMemoryKind, SieveMemoryStore } from '../types.js';
import type { PgBase } from './core.js';
import { firstOf } from './sql.js';

/** Adds the SieveMemoryStore role to the PostgreSQL store. */
export function withSieveMemory<B extends PgBase>(Base: B) {
  return class PgSieveMemory extends Base implements SieveMemoryStore {
    async sieveMemoryHas(accountId: AccountId, kind: SieveMemoryKind, key: string, now: Date): Promise<boolean> {
      const sql = 'SELECT 1 FROM sieve_memory WHERE account_id = $1 AND kind = $2 AND key = $3 AND expires_at > $4';
      return (await firstOf(this.pool, sql, [accountId, kind, key, now])) !== undefined;
    }

    async sieveMemoryPut(accountId: AccountId, kind: SieveMemoryKind, key: string, expires: Date, now: Date): Promise<void> {
      await this.pool.query('DELETE FROM sieve_memory WHERE account_id = $1 AND expires_at <= $2', [accountId, now]);
      await this.pool.query(
        `INSERT INTO sieve_memory (account_id, kind, key, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id, kind, key) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
        [accountId, kind, key, expires],
      );
    }
  };
}
