/**
 * The SQLite store's accounts: logins, password hashes and the aliases
 * that deliver into them.
 */
import { ACCOUNT_CHANNEL } from '../../events/change-bus.js';
import type { AccountId } from '../../ids.js';
import { StoreError } from '../types.js';
import type { Account, Alias, AccountStore, LastLogin } from '../types.js';
import { canonicalName, INBOX } from '../shared/names.js';
import { toAccount } from '../shared/rows.js';
import type { SqliteBase } from './core.js';

/** Adds the AccountStore role to the SQLite store. */
export function withAccounts<B extends SqliteBase>(Base: B) {
  return class SqliteAccounts extends Base implements AccountStore {
    async createAccount(name: string, passwordHash: string): Promise<Account> {
      return this.write(() => {
        const key = name.toLowerCase();
        if (this.st.accountByKey.get(key)) throw new StoreError('ALREADYEXISTS', 'account exists');
        const row = this.st.insertAccount.get(name, key, passwordHash, Date.now());
        if (!row) throw new Error('account insert returned nothing');
        for (const mb of [{ name: INBOX, specialUse: null }, ...this.defaults]) {
          this.insertMailbox(row.account_id, canonicalName(mb.name), mb.specialUse, false);
          this.st.subscribe.run(row.account_id, canonicalName(mb.name));
        }
        return toAccount(row);
      });
    }

    async findAccount(name: string): Promise<Account | null> {
      const row = this.st.accountByKey.get(name.toLowerCase());
      return row ? toAccount(row) : null;
    }

    async getAccount(id: AccountId): Promise<Account | null> {
      const row = this.st.accountById.get(id);
      return row ? toAccount(row) : null;
    }

    async listAccounts(): Promise<Account[]> {
      return this.st.allAccounts.all().map(toAccount);
    }

    async setPasswordHash(id: AccountId, passwordHash: string): Promise<void> {
      await this.write(() => this.changedOne(this.st.setPassword.run(passwordHash, id), 'account'));
    }

    async upgradePasswordHash(id: AccountId, from: string, to: string): Promise<boolean> {
      return this.write(() => this.st.upgradePassword.run(to, id, from).changes === 1);
    }

    async setDisabled(id: AccountId, disabled: boolean): Promise<void> {
      const version = await this.write(() => {
        this.changedOne(this.st.setDisabled.run(disabled ? 1 : 0, id), 'account');
        return this.st.bumpNamespace.get(id)!;
      });
      // On the account's channel, so servers end the sessions of a disabled account (server/credential-revocation.ts).
      this.publish(id, [[ACCOUNT_CHANNEL, version]]);
    }

    async recordLogin(id: AccountId, login: LastLogin): Promise<void> {
      await this.write(() => this.st.recordLogin.run(login.at.getTime(), login.protocol, login.address, id));
    }

    async deleteAccount(id: AccountId): Promise<void> {
      // Cascades to mailboxes, messages and tombstones (triggers release their blob references), subscriptions.
      await this.write(() => this.changedOne(this.st.deleteAccount.run(id), 'account'));
      await this.background.run(() => this.collectGarbage());
    }

    async addAlias(address: string, accountId: AccountId): Promise<void> {
      await this.write(() => {
        if (!this.st.accountById.get(accountId)) throw new StoreError('NONEXISTENT', 'no such account');
        const key = address.toLowerCase();
        if (this.st.aliasByKey.get(key)) throw new StoreError('ALREADYEXISTS', 'alias exists');
        this.st.insertAlias.run(key, address, accountId, Date.now());
      });
    }

    async deleteAlias(address: string): Promise<void> {
      await this.write(() => this.changedOne(this.st.deleteAlias.run(address.toLowerCase()), 'alias'));
    }

    async findAlias(address: string): Promise<Alias | null> {
      const row = this.st.aliasByKey.get(address.toLowerCase());
      return row ? { address: row.address, accountId: row.account_id as AccountId } : null;
    }

    async listAliases(): Promise<Alias[]> {
      return this.st.allAliases.all().map((row) => ({ address: row.address, accountId: row.account_id as AccountId }));
    }
  };
}
