/**
 * The SQLite store's Sieve scripts (RFC 5804 model): named texts per
 * account, at most one active (a partial unique index guards it), quotas
 * checked inside the write transaction so two uploads cannot both squeeze in.
 */
import type Database from 'better-sqlite3';
import type { AccountId } from '../../ids.js';
import { SieveQuotaError, sieveQuotaProblem } from '../shared/sieve-quota.js';
import { StoreError, type SieveScriptInfo, type SieveScriptQuota, type SieveScriptStore, type SieveScriptText } from '../types.js';
import type { SqliteBase } from './core.js';

interface ScriptRow {
  name: string;
  size: number;
  active: number;
  updated_at: number;
}

const COLUMNS = 'name, size, active, updated_at';

function prepare(db: Database.Database) {
  return {
    list: db.prepare<[number], ScriptRow>(`SELECT ${COLUMNS} FROM sieve_scripts WHERE account_id = ? ORDER BY name`),
    one: db.prepare<[number, string], ScriptRow & { content: string }>(`SELECT ${COLUMNS}, content FROM sieve_scripts WHERE account_id = ? AND name = ?`),
    active: db.prepare<[number], ScriptRow & { content: string }>(`SELECT ${COLUMNS}, content FROM sieve_scripts WHERE account_id = ? AND active = 1`),
    upsert: db.prepare<[number, string, string, number, number]>(
      `INSERT INTO sieve_scripts (account_id, name, content, size, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (account_id, name) DO UPDATE SET content = excluded.content, size = excluded.size, updated_at = excluded.updated_at`,
    ),
    deactivate: db.prepare<[number]>('UPDATE sieve_scripts SET active = 0 WHERE account_id = ? AND active = 1'),
    activate: db.prepare<[number, string]>('UPDATE sieve_scripts SET active = 1 WHERE account_id = ? AND name = ?'),
    remove: db.prepare<[number, string]>('DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?'),
    rename: db.prepare<[string, number, string]>('UPDATE sieve_scripts SET name = ? WHERE account_id = ? AND name = ?'),
  };
}

/** Statements per connection, prepared on first use (the table exists once migrated). */
const prepared = new WeakMap<Database.Database, ReturnType<typeof prepare>>();

const info = (r: ScriptRow): SieveScriptInfo => ({ name: r.name, size: r.size, active: r.active === 1, updated: new Date(r.updated_at) });
const withText = (r: (ScriptRow & { content: string }) | undefined): SieveScriptText | null => (r ? { ...info(r), content: r.content } : null);

/** Adds the SieveScriptStore role to the SQLite store. */
export function withSieveScripts<B extends SqliteBase>(Base: B) {
  return class SqliteSieveScripts extends Base implements SieveScriptStore {
    private get sieve(): ReturnType<typeof prepare> {
      let st = prepared.get(this.db);
      if (!st) prepared.set(this.db, (st = prepare(this.db)));
      return st;
    }

    async listSieveScripts(accountId: AccountId): Promise<SieveScriptInfo[]> {
      return this.read(() => this.sieve.list.all(accountId).map(info));
    }

    async getSieveScript(accountId: AccountId, name: string): Promise<SieveScriptText | null> {
      return this.read(() => withText(this.sieve.one.get(accountId, name)));
    }

    async getActiveSieveScript(accountId: AccountId): Promise<SieveScriptText | null> {
      return this.read(() => withText(this.sieve.active.get(accountId)));
    }

    async putSieveScript(accountId: AccountId, name: string, content: string, quota: SieveScriptQuota, activate = false): Promise<void> {
      const size = Buffer.byteLength(content, 'utf8');
      await this.write(() => {
        if (!this.st.accountById.get(accountId)) throw new StoreError('NONEXISTENT', 'no such account');
        const problem = sieveQuotaProblem(this.sieve.list.all(accountId), name, size, quota);
        if (problem) throw new SieveQuotaError(problem);
        this.sieve.upsert.run(accountId, name, content, size, Date.now());
        if (activate) {
          this.sieve.deactivate.run(accountId);
          this.sieve.activate.run(accountId, name);
        }
      });
    }

    async setActiveSieveScript(accountId: AccountId, name: string | null): Promise<void> {
      await this.write(() => {
        if (name !== null && !this.sieve.one.get(accountId, name)) throw new StoreError('NONEXISTENT', 'no such script');
        this.sieve.deactivate.run(accountId);
        if (name !== null) this.sieve.activate.run(accountId, name);
      });
    }

    async deleteSieveScript(accountId: AccountId, name: string): Promise<void> {
      await this.write(() => {
        const row = this.sieve.one.get(accountId, name);
        if (!row) throw new StoreError('NONEXISTENT', 'no such script');
        if (row.active === 1) throw new StoreError('INUSE', 'the script is active');
        this.sieve.remove.run(accountId, name);
      });
    }

    async renameSieveScript(accountId: AccountId, from: string, to: string): Promise<void> {
      await this.write(() => {
        if (!this.sieve.one.get(accountId, from)) throw new StoreError('NONEXISTENT', 'no such script');
        if (from === to) return;
        if (this.sieve.one.get(accountId, to)) throw new StoreError('ALREADYEXISTS', 'a script of that name exists');
        this.sieve.rename.run(to, accountId, from);
      });
    }
  };
}
