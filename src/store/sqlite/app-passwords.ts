/**
 * The SQLite store's app passwords (AppPasswordStore, store/app-password-types.ts)
 * and the account's require-app-passwords switch. A revocation or a switch
 * raises the account's channel in its transaction; other processes on the file
 * hear it through their pollers (events/modseq-poller.ts).
 */
import type Database from 'better-sqlite3';
import { ACCOUNT_CHANNEL } from '../../events/change-bus.js';
import type { AccountId } from '../../ids.js';
import type { AppPassword, AppPasswordLimits, AppPasswordStore, NewAppPassword } from '../app-password-types.js';
import { type AppPasswordRow, toAppPassword } from '../shared/rows.js';
import { StoreError, type LastLogin } from '../types.js';
import type { SqliteBase } from './core.js';

/** Retired: revoked, or expired at @now. */
const RETIRED = '(revoked_at IS NOT NULL OR (expires_at IS NOT NULL AND expires_at <= @now))';

const SQL = {
  liveByName: `SELECT * FROM app_passwords WHERE account_id = @account AND name_key = @key AND revoked_at IS NULL`,
  largestId: 'SELECT coalesce(max(app_password_id), 0) FROM app_passwords WHERE account_id = @account',
  countLive: `SELECT count(*) FROM app_passwords WHERE account_id = @account AND NOT ${RETIRED}`,
  retire: `UPDATE app_passwords SET revoked_at = @now WHERE account_id = @account AND app_password_id = @id`,
  insert: `INSERT INTO app_passwords (account_id, app_password_id, name, name_key, lookup, password_hash, protocols, created_at, expires_at)
           VALUES (@account, @id, @name, @key, @lookup, @hash, @protocols, @now, @expires) RETURNING *`,
  trim: `DELETE FROM app_passwords WHERE account_id = @account AND app_password_id IN (
           SELECT app_password_id FROM app_passwords WHERE account_id = @account AND ${RETIRED}
           ORDER BY coalesce(revoked_at, expires_at) DESC LIMIT -1 OFFSET @keep)`,
  list: 'SELECT * FROM app_passwords WHERE account_id = @account ORDER BY app_password_id',
  used: `UPDATE app_passwords SET last_used_at = @at, last_used_protocol = @protocol, last_used_address = @address
         WHERE account_id = @account AND app_password_id = @id`,
  rehash: 'UPDATE app_passwords SET password_hash = @hash WHERE account_id = @account AND app_password_id = @id',
  require: 'UPDATE accounts SET require_app_passwords = @on WHERE account_id = @account',
} as const;

/** Adds the AppPasswordStore role to the SQLite store. */
export function withAppPasswords<B extends SqliteBase>(Base: B) {
  return class SqliteAppPasswords extends Base implements AppPasswordStore {
    private appStatements: Map<string, Database.Statement> | undefined;

    /** The statement for `sql`, prepared on first use (the table exists only after the migration). */
    private app(sql: string): Database.Statement {
      this.appStatements ??= new Map();
      let st = this.appStatements.get(sql);
      if (!st) {
        st = this.db.prepare(sql);
        this.appStatements.set(sql, st);
      }
      return st;
    }

    async addAppPassword(accountId: AccountId, entry: NewAppPassword, now: Date, limits: AppPasswordLimits): Promise<AppPassword> {
      const at = now.getTime();
      return this.write(() => {
        if (!this.st.accountById.get(accountId)) throw new StoreError('NONEXISTENT', 'no such account');
        const key = entry.name.toLowerCase();
        const same = this.app(SQL.liveByName).get({ account: accountId, key }) as AppPasswordRow<number> | undefined;
        if (same && (same.expires_at === null || same.expires_at > at)) throw new StoreError('ALREADYEXISTS', 'an app password of that name exists');
        // An expired one of that name gives the name up.
        if (same) this.app(SQL.retire).run({ account: accountId, id: same.app_password_id, now: at });
        const live = this.app(SQL.countLive).pluck().get({ account: accountId, now: at }) as number;
        if (live >= limits.maxLive) throw new StoreError('LIMIT', `at most ${limits.maxLive} app passwords per account`);
        const floor = this.app(SQL.largestId).pluck().get({ account: accountId }) as number;
        const id = this.st.nextCounter.get({ name: 'app_password_id', floor })!;
        const row = this.app(SQL.insert).get({
          account: accountId,
          id,
          name: entry.name,
          key,
          lookup: entry.lookup,
          hash: entry.hash,
          protocols: entry.protocols.join(' '),
          now: at,
          expires: entry.expiresAt?.getTime() ?? null,
        }) as AppPasswordRow<number>;
        this.app(SQL.trim).run({ account: accountId, now: at, keep: limits.keepRetired });
        return toAppPassword(row);
      });
    }

    async listAppPasswords(accountId: AccountId): Promise<AppPassword[]> {
      return (this.app(SQL.list).all({ account: accountId }) as AppPasswordRow<number>[]).map(toAppPassword);
    }

    async revokeAppPassword(accountId: AccountId, name: string, now: Date, limits: AppPasswordLimits): Promise<AppPassword> {
      const at = now.getTime();
      const [revoked, version] = this.write((): [AppPassword, number] => {
        const row = this.app(SQL.liveByName).get({ account: accountId, key: name.toLowerCase() }) as AppPasswordRow<number> | undefined;
        if (!row) throw new StoreError('NONEXISTENT', 'no such app password');
        this.app(SQL.retire).run({ account: accountId, id: row.app_password_id, now: at });
        this.app(SQL.trim).run({ account: accountId, now: at, keep: limits.keepRetired });
        return [toAppPassword({ ...row, revoked_at: at }), this.st.bumpNamespace.get(accountId)!];
      });
      this.publish(accountId, [[ACCOUNT_CHANNEL, version]]);
      return revoked;
    }

    async setAppPasswordHash(accountId: AccountId, id: number, hash: string): Promise<void> {
      this.write(() => this.app(SQL.rehash).run({ account: accountId, id, hash }));
    }

    async recordAppPasswordUse(accountId: AccountId, id: number, use: LastLogin): Promise<void> {
      this.write(() => this.app(SQL.used).run({ account: accountId, id, at: use.at.getTime(), protocol: use.protocol, address: use.address }));
    }

    async setRequireAppPasswords(accountId: AccountId, on: boolean): Promise<void> {
      const version = this.write(() => {
        this.changedOne(this.app(SQL.require).run({ account: accountId, on: on ? 1 : 0 }), 'account');
        return this.st.bumpNamespace.get(accountId)!;
      });
      this.publish(accountId, [[ACCOUNT_CHANNEL, version]]);
    }
  };
}
