/**
 * The SQLite store's SCRAM keys (ScramKeyStore): one row per account and hash
 * function, returned only while its password hash is the account's.
 */
import type Database from 'better-sqlite3';
import type { AccountId } from '../../ids.js';
import type { ScramCredential, ScramHash, ScramKeyStore } from '../types.js';
import { type ScramKeyRow, scramKeyValues, toScramCredential } from '../shared/scram-keys.js';
import type { SqliteBase } from './core.js';

const SELECT_SQL = `SELECT k.salt, k.iterations, k.stored_key, k.server_key FROM scram_keys k
  JOIN accounts a ON a.account_id = k.account_id AND a.password_hash = k.password_hash
  WHERE k.account_id = ? AND k.hash = ?`;

// The SELECT finds no account row when the password changed meanwhile: nothing is written then.
const UPSERT_SQL = `INSERT INTO scram_keys (account_id, password_hash, hash, salt, iterations, stored_key, server_key)
  SELECT account_id, password_hash, ?, ?, ?, ?, ? FROM accounts WHERE account_id = ? AND password_hash = ?
  ON CONFLICT (account_id, hash) DO UPDATE SET password_hash = excluded.password_hash, salt = excluded.salt,
    iterations = excluded.iterations, stored_key = excluded.stored_key, server_key = excluded.server_key`;

/** Adds the ScramKeyStore role to the SQLite store. */
export function withScramKeys<B extends SqliteBase>(Base: B) {
  return class SqliteScramKeys extends Base implements ScramKeyStore {
    private scramStatements: { select: Database.Statement; upsert: Database.Statement } | undefined;

    async scramCredential(id: AccountId, hash: ScramHash): Promise<ScramCredential | null> {
      const row = this.scramSql().select.get(id, hash) as ScramKeyRow | undefined;
      return row ? toScramCredential(hash, row) : null;
    }

    async setScramCredentials(id: AccountId, passwordHash: string, credentials: readonly ScramCredential[]): Promise<void> {
      if (credentials.length === 0) return;
      const { upsert } = this.scramSql();
      await this.write(() => {
        for (const c of credentials) upsert.run(...scramKeyValues(c), id, passwordHash);
      });
    }

    /** Prepared on first use: the table exists once the store is migrated. */
    private scramSql(): { select: Database.Statement; upsert: Database.Statement } {
      this.scramStatements ??= { select: this.db.prepare(SELECT_SQL), upsert: this.db.prepare(UPSERT_SQL) };
      return this.scramStatements;
    }
  };
}
