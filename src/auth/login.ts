/**
 * One password check shared by every protocol (IMAP LOGIN/AUTHENTICATE, POP3
 * USER/PASS/AUTH): throttling per client address and per account, constant
 * work for unknown users, and the tarpit delay after a failure. Passwords
 * never reach a log.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Account, MailStore } from '../store/types.js';
import { BUSY } from './hash-gate.js';
import { hashPassword, needsRehash, verifyPassword } from './password.js';
import type { AuthThrottle } from './throttle.js';

/** What a login attempt needs. */
export interface LoginDeps {
  store: MailStore;
  throttle: AuthThrottle;
  log: Logger;
}

/**
 * The outcome: the account, or why not (the caller maps it to its protocol's
 * reply): `throttled` and `busy` are temporary refusals without a password check.
 */
export type LoginResult = { ok: true; account: Account } | { ok: false; reason: 'failed' | 'throttled' | 'busy' };

/** Longest user name looked up; longer ones simply fail. */
const MAX_USER_LENGTH = 256;

/** Looks the account up and verifies the password: the work one hash slot pays for. */
async function verify(deps: LoginDeps, user: string, password: string): Promise<Account | null> {
  const account = user.length <= MAX_USER_LENGTH ? await deps.store.findAccount(user) : null;
  // verifyPassword spends one full hash even without a stored hash, so timing does not reveal accounts.
  const ok = await verifyPassword(password, account?.passwordHash ?? null, deps.throttle.hashCost);
  return ok ? account : null;
}

/** Checks a user name and password from a client address. */
export async function checkLogin(deps: LoginDeps, ip: string, user: string, password: string): Promise<LoginResult> {
  const admission = await deps.throttle.begin(ip, user);
  if (!admission.admit) return { ok: false, reason: admission.reason };
  let result: Account | null | typeof BUSY = BUSY;
  try {
    // The lookup waits for a hash slot too, so attempts the gate refuses cost no store query.
    result = await deps.throttle.hashes.run(admission.key.ip, admission.clean, () => verify(deps, user, password));
  } finally {
    // Runs on errors too: an attempt never stays in flight.
    const outcome = result === BUSY ? 'abandoned' : result ? 'succeeded' : 'failed';
    const delay = await deps.throttle.finish(admission, outcome);
    if (outcome === 'failed') {
      deps.log.info({ user: user.slice(0, 64), ip }, 'authentication failed');
      if (delay > 0) await sleep(delay);
    }
  }
  if (result === BUSY) return { ok: false, reason: 'busy' };
  if (result === null) return { ok: false, reason: 'failed' };
  const account = result;
  if (needsRehash(account.passwordHash, deps.throttle.hashCost)) {
    // Stronger hashing parameters than when the password was set: upgrade quietly.
    void hashPassword(password, deps.throttle.hashCost)
      .then((h) => deps.store.setPasswordHash(account.id, h))
      .catch((err: unknown) => deps.log.warn({ err }, 'password rehash failed'));
  }
  return { ok: true, account };
}

/** Splits a SASL PLAIN response (RFC 4616 §2) into its parts; null when malformed. */
export function parseSaslPlain(decoded: Buffer): { authz: string; user: string; password: string } | null {
  const parts = decoded.toString('utf8').split('\0');
  if (parts.length !== 3) return null;
  const [authz, user, password] = parts as [string, string, string];
  return { authz, user, password };
}

/** Decodes a base64 SASL response line (RFC 4648 §4, strict: no whitespace); null when invalid. */
export function decodeSaslBase64(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  return Buffer.from(text, 'base64');
}
