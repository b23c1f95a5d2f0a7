/**
 * The PostgreSQL store's app passwords (AppPasswordStore, store/app-password-types.ts)
 * and the account's require-app-passwords switch. A revocation or a switch
 * raises the account's channel in its transaction (NOTIFY at commit), so every
 * node hears of it (events/pg-bus.ts).
 */
import type { AccountId } from '../../ids.js';
import type { AppPassword, AppPasswordLimits, AppPasswordStore, NewAppPassword } from '../app-password-types.js';
import { type AppPasswordRow, toAppPassword } from '../shared/rows.js';
import { StoreError, type LastLogin } from '../types.js';
import type { PgBase } from './core.js';
import { bumpNamespace } from './mailbox-tx.js';
import { firstOf, rowsOf, type Client } from './sql.js';

type Row = AppPasswordRow<Date>;

/** Retired: revoked, or expired at $2. */
const RETIRED = '(revoked_at IS NOT NULL OR (expires_at IS NOT NULL AND expires_at <= $2))';

/** The account's live app password of that lower-cased name, locked for the transaction. */
const liveByName = (c: Client, accountId: AccountId, key: string): Promise<Row | undefined> =>
  firstOf<Row>(c, 'SELECT * FROM app_passwords WHERE account_id = $1 AND name_key = $2 AND revoked_at IS NULL FOR UPDATE', [accountId, key]);

const retire = (c: Client, accountId: AccountId, id: number, now: Date) =>
  c.query('UPDATE app_passwords SET revoked_at = $3 WHERE account_id = $1 AND app_password_id = $2', [accountId, id, now]);

/** Deletes retired app passwords beyond the newest `keep`. */
const trim = (c: Client, accountId: AccountId, now: Date, keep: number) =>
  c.query(
    `DELETE FROM app_passwords WHERE account_id = $1 AND app_password_id IN (
       SELECT app_password_id FROM app_passwords WHERE account_id = $1 AND ${RETIRED}
       ORDER BY coalesce(revoked_at, expires_at) DESC OFFSET $3)`,
    [accountId, now, keep],
  );

/** Adds the AppPasswordStore role to the PostgreSQL store. */
export function withAppPasswords<B extends PgBase>(Base: B) {
  return class PgAppPasswords extends Base implements AppPasswordStore {
    async addAppPassword(accountId: AccountId, entry: NewAppPassword, now: Date, limits: AppPasswordLimits): Promise<AppPassword> {
      return this.write(async (c) => {
        // Locks the account: two adds for one account are serialized, so the count below holds.
        if (!(await firstOf(c, 'SELECT 1 FROM accounts WHERE account_id = $1 FOR UPDATE', [accountId]))) {
          throw new StoreError('NONEXISTENT', 'no such account');
        }
        const key = entry.name.toLowerCase();
        const same = await liveByName(c, accountId, key);
        if (same && (same.expires_at === null || same.expires_at > now)) throw new StoreError('ALREADYEXISTS', 'an app password of that name exists');
        // An expired one of that name gives the name up.
        if (same) await retire(c, accountId, same.app_password_id, now);
        const live = await firstOf<{ n: number }>(c, `SELECT count(*)::int AS n FROM app_passwords WHERE account_id = $1 AND NOT ${RETIRED}`, [accountId, now]);
        if ((live?.n ?? 0) >= limits.maxLive) throw new StoreError('LIMIT', `at most ${limits.maxLive} app passwords per account`);
        // The installation-wide counter, past the account's largest id (a copied store has rows but no counter).
        const next = await firstOf<{ value: number }>(
          c,
          `INSERT INTO counters (name, value)
             SELECT 'app_password_id', coalesce(max(app_password_id), 0) + 1 FROM app_passwords WHERE account_id = $1
           ON CONFLICT (name) DO UPDATE SET value = greatest(counters.value, EXCLUDED.value - 1) + 1 RETURNING value`,
          [accountId],
        );
        const row = await firstOf<Row>(
          c,
          `INSERT INTO app_passwords (account_id, app_password_id, name, name_key, lookup, password_hash, protocols, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
          [accountId, next!.value, entry.name, key, entry.lookup, entry.hash, entry.protocols.join(' '), now, entry.expiresAt],
        );
        if (!row) throw new Error('app password insert returned nothing');
        await trim(c, accountId, now, limits.keepRetired);
        return [toAppPassword(row), []];
      });
    }

    async listAppPasswords(accountId: AccountId): Promise<AppPassword[]> {
      return (await rowsOf<Row>(this.pool, 'SELECT * FROM app_passwords WHERE account_id = $1 ORDER BY app_password_id', [accountId])).map(toAppPassword);
    }

    async revokeAppPassword(accountId: AccountId, name: string, now: Date, limits: AppPasswordLimits): Promise<AppPassword> {
      return this.write(async (c) => {
        const row = await liveByName(c, accountId, name.toLowerCase());
        if (!row) throw new StoreError('NONEXISTENT', 'no such app password');
        await retire(c, accountId, row.app_password_id, now);
        await trim(c, accountId, now, limits.keepRetired);
        return [toAppPassword({ ...row, revoked_at: now }), [await bumpNamespace(c, accountId)]];
      });
    }

    async setAppPasswordHash(accountId: AccountId, id: number, hash: string): Promise<void> {
      await this.pool.query('UPDATE app_passwords SET password_hash = $3 WHERE account_id = $1 AND app_password_id = $2', [accountId, id, hash]);
    }

    async recordAppPasswordUse(accountId: AccountId, id: number, use: LastLogin): Promise<void> {
      await this.pool.query(
        `UPDATE app_passwords SET last_used_at = $3, last_used_protocol = $4, last_used_address = $5
         WHERE account_id = $1 AND app_password_id = $2`,
        [accountId, id, use.at, use.protocol, use.address],
      );
    }

    async setRequireAppPasswords(accountId: AccountId, on: boolean): Promise<void> {
      await this.write(async (c) => {
        const res = await c.query('UPDATE accounts SET require_app_passwords = $2 WHERE account_id = $1', [accountId, on]);
        if (res.rowCount === 0) throw new StoreError('NONEXISTENT', 'no such account');
        return [undefined, [await bumpNamespace(c, accountId)]];
      });
    }
  };
}
