/**
 * The account's last login (`mailkeep user show`), written after a
 * successful login. A client that logs in every minute (webmail, phones)
 * would otherwise cost a store write per login: the same account, protocol
 * and address is written again only after a minute.
 *
 * Invariant: a failure to record never fails the login; the table of recent
 * writes is bounded.
 */
import type { Logger } from 'pino';
import type { Account, MailStore } from '../store/types.js';

const REWRITE_AFTER_MS = 60_000;
/** Remembered (account, protocol, address) writes; the table starts over beyond it. */
const MAX_REMEMBERED = 10_000;

const written = new Map<string, number>();

/** Records that `account` logged in now over `protocol` from `address`. */
export function recordLogin(deps: { store: MailStore; log: Logger }, account: Account, protocol: string, address: string): void {
  const key = `${account.id} ${protocol} ${address}`;
  const now = Date.now();
  const last = written.get(key);
  if (last !== undefined && now - last < REWRITE_AFTER_MS) return;
  if (written.size >= MAX_REMEMBERED) written.clear();
  written.set(key, now);
  deps.store.recordLogin(account.id, { at: new Date(now), protocol, address }).catch((err: unknown) => {
    written.delete(key);
    deps.log.warn({ err, user: account.name }, 'cannot record the login');
  });
}
