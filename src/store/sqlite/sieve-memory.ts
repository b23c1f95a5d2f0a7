/**
 * The SQLite store's Sieve memory: per-account records with an expiry that
 * vacation (RFC 5230 §4.2 "already replied") and duplicate (RFC 7352 §3
 * tracking) consult at delivery. Expired records are dropped when the same
 * account writes, so the table stays as small as the live records.
 */
import type Database from 'better-sqlite3';
import type { AccountId } from '../../ids.js';
import type { SieveMemoryKind, SieveMemoryStore } from '../types.js';
import type { SqliteBase } from './core.js';

function prepare(db: Database.Database) {
  return {
    has: db.prepare<[number, string, string, number], { one: number }>(
      'SELECT 1 AS one FROM sieve_memory WHERE account_id = ? AND kind = ? AND key = ? AND expires_at > ?',
    ),
    put: db.prepare<[number, string, string, number]>(
      `INSERT INTO sieve_memory (account_id, kind, key, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (account_id, kind, key) DO UPDATE SET expires_at = excluded.expires_at`,
    ),
    expire: db.prepare<[number, number]>('DELETE FROM sieve_memory WHERE account_id = ? AND expires_at <= ?'),
  };
}

/** Statements per connection, prepared on first use (the table exists once migrated). */
const prepared = new WeakMap<Database.Database, ReturnType<typeof prepare>>();

/** Adds the SieveMemoryStore role to the SQLite store. */
export function withSieveMemory<B extends SqliteBase>(Base: B) {
  return class SqliteSieveMemory extends Base implements SieveMemoryStore {
    private get memory(): ReturnType<typeof prepare> {
      let st = prepared.get(this.db);
      if (!st) prepared.set(this.db, (st = prepare(this.db)));
      return st;
    }

    async sieveMemoryHas(accountId: AccountId, kind: SieveMemoryKind, key: string, now: Date): Promise<boolean> {
      return this.read(() => this.memory.has.get(accountId, kind, key, now.getTime()) !== undefined);
    }

    async sieveMemoryPut(accountId: AccountId, kind: SieveMemoryKind, key: string, expires: Date, now: Date): Promise<void> {
      await this.write(() => {
        this.memory.expire.run(accountId, now.getTime());
        this.memory.put.run(accountId, kind, key, expires.getTime());
      });
    }
  };
}
