/**
 * The PostgreSQL store's accounts: logins, password hashes and the aliases
 * that deliver into them.
 */
import type { AccountId } from '../../ids.js';
import { canonicalName, INBOX } from '../shared/names.js';
import { toAccount } from '../shared/rows.js';
import { StoreError } from '../types.js';
import type { Account, Alias, AccountStore, LastLogin } from '../types.js';
import type { AccountRow } from './rows.js';
import { bumpNamespace, dropMessages, insertMailboxes } from './mailbox-tx.js';
import { firstOf, rowsOf, storable } from './sql.js';
import type { PgBase } from './core.js';

/** Adds the AccountStore role to the PostgreSQL store. */
export function withAccounts<B extends PgBase>(Base: B) {
  return class PgAccounts extends Base implements AccountStore {
    async createAccount(name: string, passwordHash: string): Promise<Account> {
      if (!storable(name)) throw new StoreError('CANNOT', 'invalid account name');
      return this.write(async (c) => {
        const key = name.toLowerCase();
        if (await firstOf(c, 'SELECT 1 FROM accounts WHERE name_key = $1', [key])) throw new StoreError('ALREADYEXISTS', 'account exists');
        const row = await firstOf<AccountRow>(c, 'INSERT INTO accounts (name, name_key, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING *', [
          name,
          key,
          passwordHash,
          new Date(),
        ]);
        if (!row) throw new Error('account insert returned nothing');
        const boxes = [{ name: INBOX, specialUse: null }, ...this.defaults].map((d) => ({ ...d, name: canonicalName(d.name) }));
        await insertMailboxes(c, row.account_id, boxes);
        await c.query('INSERT INTO subscriptions (account_id, name) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [
          row.account_id,
          boxes.map((b) => b.name),
        ]);
        return [toAccount(row), []];
      });
    }

    async findAccount(name: string): Promise<Account | null> {
      if (!storable(name)) return null;
      const row = await firstOf<AccountRow>(this.pool, 'SELECT * FROM accounts WHERE name_key = $1', [name.toLowerCase()]);
      return row ? toAccount(row) : null;
    }

    async getAccount(id: AccountId): Promise<Account | null> {
      const row = await firstOf<AccountRow>(this.pool, 'SELECT * FROM accounts WHERE account_id = $1', [id]);
      return row ? toAccount(row) : null;
    }

    async listAccounts(): Promise<Account[]> {
      return (await rowsOf<AccountRow>(this.pool, 'SELECT * FROM accounts ORDER BY name_key', [])).map(toAccount);
    }

    async setPasswordHash(id: AccountId, passwordHash: string): Promise<void> {
      await this.updateAccount('password_hash = $1', [passwordHash], id);
      await this.announceCredentialsChanged(id);
    }

    async upgradePasswordHash(id: AccountId, from: string, to: string): Promise<boolean> {
      const res = await this.pool.query('UPDATE accounts SET password_hash = $1 WHERE account_id = $2 AND password_hash = $3', [to, id, from]);
      return res.rowCount === 1;
    }

    async setDisabled(id: AccountId, disabled: boolean): Promise<void> {
      await this.write(async (c) => {
        const res = await c.query('UPDATE accounts SET disabled = $1 WHERE account_id = $2', [disabled, id]);
        if (res.rowCount === 0) throw new StoreError('NONEXISTENT', 'no such account');
        // On the account's channel, so servers end the sessions of a disabled account (server/credential-revocation.ts).
        return [undefined, [await bumpNamespace(c, id)]];
      });
      await this.announceCredentialsChanged(id);
    }

    async recordLogin(id: AccountId, login: LastLogin): Promise<void> {
      await this.updateAccount('last_login_at = $1, last_login_protocol = $2, last_login_address = $3', [login.at, login.protocol, login.address], id);
    }

    /** Sets columns of one account (`assignments` numbers its parameters from $1); NONEXISTENT when it is gone. */
    private async updateAccount(assignments: string, values: unknown[], id: AccountId): Promise<void> {
      const res = await this.pool.query(`UPDATE accounts SET ${assignments} WHERE account_id = $${values.length + 1}`, [...values, id]);
      if (res.rowCount === 0) throw new StoreError('NONEXISTENT', 'no such account');
    }

    async deleteAccount(id: AccountId): Promise<void> {
      await this.write(async (c) => {
        // Lock order: the account, then its mailboxes, so no writer adds a message we would not count.
        if (!(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1 FOR UPDATE', [id]))) {
          throw new StoreError('NONEXISTENT', 'no such account');
        }
        await c.query('SELECT 1 FROM mailboxes WHERE account_id = $1 ORDER BY mailbox_id FOR UPDATE', [id]);
        const refs = await dropMessages(c, id, null);
        // Cascades to mailboxes, subscriptions, aliases, metadata, import records and sync states.
        await c.query('DELETE FROM accounts WHERE account_id = $1', [id]);
        await refs.apply(c);
        return [undefined, []];
      });
      await this.announceCredentialsChanged(id);
      await this.background.run(() => this.collectGarbage());
    }

    async addAlias(address: string, accountId: AccountId): Promise<void> {
      if (!storable(address)) throw new StoreError('CANNOT', 'invalid address');
      await this.write(async (c) => {
        if (!(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1', [accountId]))) {
          throw new StoreError('NONEXISTENT', 'no such account');
        }
        const key = address.toLowerCase();
        if (await firstOf(c, 'SELECT 1 FROM aliases WHERE address_key = $1', [key])) throw new StoreError('ALREADYEXISTS', 'alias exists');
        await c.query('INSERT INTO aliases (address_key, address, account_id, created_at) VALUES ($1, $2, $3, $4)', [key, address, accountId, new Date()]);
        return [undefined, []];
      });
    }

    async deleteAlias(address: string): Promise<void> {
      const res = await this.pool.query('DELETE FROM aliases WHERE address_key = $1', [address.toLowerCase()]);
      if (res.rowCount === 0) throw new StoreError('NONEXISTENT', 'no such alias');
    }

    async findAlias(address: string): Promise<Alias | null> {
      if (!storable(address)) return null;
      const row = await firstOf<Alias>(this.pool, 'SELECT address, account_id AS "accountId" FROM aliases WHERE address_key = $1', [address.toLowerCase()]);
      return row ?? null;
    }

    async listAliases(): Promise<Alias[]> {
      return rowsOf<Alias>(this.pool, 'SELECT address, account_id AS "accountId" FROM aliases ORDER BY address_key', []);
    }
  };
}
