/**
 * The PostgreSQL store's Sieve scripts: semantics as in the SQLite store
 * (../sqlite/sieve-scripts.ts). Writers of one account serialize on its
 * accounts row, so the quota check and the write see the same scripts.
 */
import type { AccountId } from '../../ids.js';
import { SieveQuotaError, sieveQuotaProblem } from '../shared/sieve-quota.js';
import { StoreError, type SieveScriptInfo, type SieveScriptQuota, type SieveScriptStore, type SieveScriptText } from '../types.js';
import type { PgBase } from './core.js';
import { firstOf, rowsOf, storable, type Client } from './sql.js';

interface ScriptRow {
  name: string;
  size: number;
  active: boolean;
  updated_at: Date;
}

const COLUMNS = 'name, size, active, updated_at';

const info = (r: ScriptRow): SieveScriptInfo => ({ name: r.name, size: r.size, active: r.active, updated: r.updated_at });
const withText = (r: (ScriptRow & { content: string }) | undefined): SieveScriptText | null => (r ? { ...info(r), content: r.content } : null);

/** Locks the account's row (the scripts' writer lock); NONEXISTENT when there is no such account. */
async function lockAccount(c: Client, accountId: AccountId): Promise<void> {
  if (!(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1 FOR NO KEY UPDATE', [accountId]))) {
    throw new StoreError('NONEXISTENT', 'no such account');
  }
}

async function scriptRow(c: Client, accountId: AccountId, name: string): Promise<ScriptRow | undefined> {
  return firstOf<ScriptRow>(c, `SELECT ${COLUMNS} FROM sieve_scripts WHERE account_id = $1 AND name = $2`, [accountId, name]);
}

/** Makes `name` the only active script (null: none), in the caller's transaction. */
async function activateOnly(c: Client, accountId: AccountId, name: string | null): Promise<void> {
  await c.query('UPDATE sieve_scripts SET active = false WHERE account_id = $1 AND active', [accountId]);
  if (name !== null) await c.query('UPDATE sieve_scripts SET active = true WHERE account_id = $1 AND name = $2', [accountId, name]);
}

/** Adds the SieveScriptStore role to the PostgreSQL store. */
export function withSieveScripts<B extends PgBase>(Base: B) {
  return class PgSieveScripts extends Base implements SieveScriptStore {
    async listSieveScripts(accountId: AccountId): Promise<SieveScriptInfo[]> {
      return (await rowsOf<ScriptRow>(this.pool, `SELECT ${COLUMNS} FROM sieve_scripts WHERE account_id = $1 ORDER BY name`, [accountId])).map(info);
    }

    async getSieveScript(accountId: AccountId, name: string): Promise<SieveScriptText | null> {
      if (!storable(name)) return null;
      const sql = `SELECT ${COLUMNS}, content FROM sieve_scripts WHERE account_id = $1 AND name = $2`;
      return withText(await firstOf<ScriptRow & { content: string }>(this.pool, sql, [accountId, name]));
    }

    async getActiveSieveScript(accountId: AccountId): Promise<SieveScriptText | null> {
      const sql = `SELECT ${COLUMNS}, content FROM sieve_scripts WHERE account_id = $1 AND active`;
      return withText(await firstOf<ScriptRow & { content: string }>(this.pool, sql, [accountId]));
    }

    async putSieveScript(accountId: AccountId, name: string, content: string, quota: SieveScriptQuota, activate = false): Promise<void> {
      // PostgreSQL text holds no NUL; RFC 5804 §1.6 names have none either, and such a script could not be sent back byte-exact.
      if (!storable(name) || content.includes('\0')) throw new StoreError('CANNOT', 'a script or its name cannot contain NUL');
      const size = Buffer.byteLength(content, 'utf8');
      await this.write(async (c) => {
        await lockAccount(c, accountId);
        const scripts = await rowsOf<ScriptRow>(c, `SELECT ${COLUMNS} FROM sieve_scripts WHERE account_id = $1`, [accountId]);
        const problem = sieveQuotaProblem(scripts, name, size, quota);
        if (problem) throw new SieveQuotaError(problem);
        await c.query(
          `INSERT INTO sieve_scripts (account_id, name, content, size, updated_at) VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (account_id, name) DO UPDATE SET content = EXCLUDED.content, size = EXCLUDED.size, updated_at = EXCLUDED.updated_at`,
          [accountId, name, content, size],
        );
        if (activate) await activateOnly(c, accountId, name);
        return [undefined, []];
      });
    }

    async setActiveSieveScript(accountId: AccountId, name: string | null): Promise<void> {
      await this.write(async (c) => {
        await lockAccount(c, accountId);
        if (name !== null && (!storable(name) || !(await scriptRow(c, accountId, name)))) throw new StoreError('NONEXISTENT', 'no such script');
        await activateOnly(c, accountId, name);
        return [undefined, []];
      });
    }

    async deleteSieveScript(accountId: AccountId, name: string): Promise<void> {
      await this.write(async (c) => {
        await lockAccount(c, accountId);
        const row = storable(name) ? await scriptRow(c, accountId, name) : undefined;
        if (!row) throw new StoreError('NONEXISTENT', 'no such script');
        if (row.active) throw new StoreError('INUSE', 'the script is active');
        await c.query('DELETE FROM sieve_scripts WHERE account_id = $1 AND name = $2', [accountId, name]);
        return [undefined, []];
      });
    }

    async renameSieveScript(accountId: AccountId, from: string, to: string): Promise<void> {
      await this.write(async (c) => {
        await lockAccount(c, accountId);
        if (!storable(from) || !(await scriptRow(c, accountId, from))) throw new StoreError('NONEXISTENT', 'no such script');
        if (from === to) return [undefined, []];
        if (!storable(to) || (await scriptRow(c, accountId, to))) throw new StoreError('ALREADYEXISTS', 'a script of that name exists');
        await c.query('UPDATE sieve_scripts SET name = $3 WHERE account_id = $1 AND name = $2', [accountId, from, to]);
        return [undefined, []];
      });
    }
  };
}
