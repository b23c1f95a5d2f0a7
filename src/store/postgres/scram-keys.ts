/**
 * The PostgreSQL store's SCRAM keys (ScramKeyStore): one row per account and
 * hash function, returned only while its password hash is the account's.
 */
import type { AccountId } from '../../ids.js';
import type { ScramCredential, ScramHash, ScramKeyStore } from '../types.js';
import { type ScramKeyRow, scramKeyValues, toScramCredential } from '../shared/scram-keys.js';
import type { PgBase } from './core.js';
import { transaction } from './pool.js';
import { firstOf } from './sql.js';

const SELECT_SQL = `SELECT k.salt, k.iterations, k.stored_key, k.server_key FROM scram_keys k
  JOIN accounts a ON a.account_id = k.account_id AND a.password_hash = k.password_hash
  WHERE k.account_id = $1 AND k.hash = $2`;

// The SELECT finds no account row when the password changed meanwhile: nothing is written then.
const UPSERT_SQL = `INSERT INTO scram_keys (account_id, password_hash, hash, salt, iterations, stored_key, server_key)
  SELECT account_id, password_hash, $1, $2, $3, $4, $5 FROM accounts WHERE account_id = $6 AND password_hash = $7
  ON CONFLICT (account_id, hash) DO UPDATE SET password_hash = excluded.password_hash, salt = excluded.salt,
    iterations = excluded.iterations, stored_key = excluded.stored_key, server_key = excluded.server_key`;

/** Adds the ScramKeyStore role to the PostgreSQL store. */
export function withScramKeys<B extends PgBase>(Base: B) {
  return class PgScramKeys extends Base implements ScramKeyStore {
    async scramCredential(id: AccountId, hash: ScramHash): Promise<ScramCredential | null> {
      const row = await firstOf<ScramKeyRow & Record<string, unknown>>(this.pool, SELECT_SQL, [id, hash]);
      return row ? toScramCredential(hash, row) : null;
    }

    async setScramCredentials(id: AccountId, passwordHash: string, credentials: readonly ScramCredential[]): Promise<void> {
      if (credentials.length === 0) return;
      await transaction(this.pool, async (c) => {
        for (const k of credentials) await c.query(UPSERT_SQL, [...scramKeyValues(k), id, passwordHash]);
        return { result: undefined };
      });
    }
  };
}
