/**
 * The account's last login (`mailkeep user show`) and an app password's last
 * use (`mailkeep user app-password list`), written after a successful login.
 * A client that logs in every minute (webmail, phones) would otherwise cost a
 * store write per login: the same record, protocol and address is written
 * again only after a minute.
 *
 * Invariant: a failure to record never fails the login; the table of recent
 * writes is bounded.
 */
import type { Logger } from 'pino';
import type { Account, AppPassword, LastLogin, MailStore } from '../store/types.js';

const REWRITE_AFTER_MS = 60_000;
/** Remembered (record, protocol, address) writes; the table starts over beyond it. */
const MAX_REMEMBERED = 10_000;

const written = new Map<string, number>();

type Deps = { store: MailStore; log: Logger };

/** Runs `write` unless the same `key` was written within the last minute. */
function coalesced(deps: Deps, key: string, user: string, write: (login: LastLogin) => Promise<void>, protocol: string, address: string): void {
  const now = Date.now();
  const last = written.get(key);
  if (last !== undefined && now - last < REWRITE_AFTER_MS) return;
  if (written.size >= MAX_REMEMBERED) written.clear();
  written.set(key, now);
  write({ at: new Date(now), protocol, address }).catch((err: unknown) => {
    written.delete(key);
    deps.log.warn({ err, user }, 'cannot record the login');
  });
}

/** Records that `account` logged in now over `protocol` from `address`. */
export function recordLogin(deps: Deps, account: Account, protocol: string, address: string): void {
  coalesced(deps, `${account.id} ${protocol} ${address}`, account.name, (login) => deps.store.recordLogin(account.id, login), protocol, address);
}

/** Records that app password `app` logged in now over `protocol` from `address`. */
export function recordAppPasswordUse(deps: Deps, app: AppPassword, protocol: string, address: string): void {
  coalesced(deps, `app:${app.id} ${protocol} ${address}`, app.name, (use) => deps.store.recordAppPasswordUse(app.accountId, app.id, use), protocol, address);
}
