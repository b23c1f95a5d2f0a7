/**
 * One password check shared by every protocol (IMAP LOGIN/AUTHENTICATE, POP3
 * USER/PASS/AUTH): throttling per client address and per account, constant
 * work for unknown users, and the tarpit delay after a failure. Passwords
 * never reach a log.
 *
 * Order: the throttle admits the attempt first; then the account is read and
 * the credential cache (auth/credential-cache.ts) asked; only a miss waits
 * for a hash slot and pays the full hash. A hit settles as a success through
 * the same throttle accounting; a failure is never cached, so every wrong
 * password costs a hash, counts and is tarpitted exactly as without a cache.
 *
 * The verification step is pluggable (authenticateAccount): a password check
 * here, a SCRAM proof check in auth/sasl-login.ts; admission, counting, the
 * tarpit, the log line, the disabled-account refusal and the last login are
 * the same for every mechanism.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Account, MailStore } from '../store/types.js';
import type { CredentialCache } from './credential-cache.js';
import { BUSY } from './hash-gate.js';
import { recordLogin } from './last-login.js';
import { hashPassword, needsRehash, verifyPassword } from './password.js';
import { ensureScramKeys } from './scram-keys.js';
import type { AuthThrottle } from './throttle.js';

/** What a login attempt needs. */
export interface LoginDeps {
  store: MailStore;
  throttle: AuthThrottle;
  credentials: CredentialCache;
  log: Logger;
  config: Pick<Config, 'auth'>;
}

/**
 * The outcome: the account, or why not (the caller maps it to its protocol's
 * reply): `throttled` and `busy` are temporary refusals without a password check;
 * `disabled` follows a right password for a disabled account (told only then, so
 * it reveals nothing to a guesser).
 */
export type LoginResult = { ok: true; account: Account } | { ok: false; reason: 'failed' | 'throttled' | 'busy' | 'disabled' };

/** Longest user name looked up; longer ones simply fail. */
const MAX_USER_LENGTH = 256;

const findAccount = (deps: LoginDeps, user: string): Promise<Account | null> =>
  user.length <= MAX_USER_LENGTH ? deps.store.findAccount(user) : Promise.resolve(null);

/**
 * The account when the cache holds this password for its current stored hash.
 * Read from the store each time, so a password changed or an account deleted
 * by another process or node is seen at once (the old hash no longer matches).
 */
async function fromCache(deps: LoginDeps, user: string, password: string): Promise<Account | null> {
  if (!deps.credentials.enabled) return null;
  const account = await findAccount(deps, user);
  if (account === null || !deps.credentials.holds(account.id, password, account.passwordHash)) return null;
  deps.log.debug({ user: account.name }, 'password accepted from the credential cache');
  return account;
}

/** Looks the account up and verifies the password: the work one hash slot pays for. */
async function verify(deps: LoginDeps, user: string, password: string): Promise<Account | null> {
  // Read again: the attempt may have waited for its slot while the account changed.
  const account = await findAccount(deps, user);
  // verifyPassword spends one full hash even without a stored hash, so timing does not reveal accounts.
  const ok = await verifyPassword(password, account?.passwordHash ?? null, deps.throttle.hashCost);
  if (!ok || account === null) return null;
  deps.credentials.remember(account.id, password, account.passwordHash);
  if (needsRehash(account.passwordHash, deps.throttle.hashCost)) rehash(deps, account, password);
  else scramKeys(deps, account, password);
  return account;
}

/** SCRAM keys for accounts that lack them for their current password hash (auth/scram-keys.ts), when SCRAM is on. */
function scramKeys(deps: LoginDeps, account: Account, password: string): void {
  if (deps.config.auth.scram) ensureScramKeys(deps, account, password, deps.config.auth.scramIterations);
}

/**
 * Stronger hashing parameters than when the password was set: upgrade quietly.
 * Only after a full verification, so cache hits on the old hash never start hashes outside the gate.
 */
function rehash(deps: LoginDeps, account: Account, password: string): void {
  void hashPassword(password, deps.throttle.hashCost)
    .then(async (h) => {
      await deps.store.setPasswordHash(account.id, h);
      deps.credentials.remember(account.id, password, h);
      // SCRAM keys belong to a password hash: the new one needs its own.
      scramKeys(deps, { ...account, passwordHash: h }, password);
    })
    .catch((err: unknown) => deps.log.warn({ err }, 'password rehash failed'));
}

/** Runs work in a hash slot (auth/hash-gate.ts), first among equals when the address is clean; BUSY when the gate refuses. */
export type HashSlot = <T>(work: () => Promise<T>) => Promise<T | typeof BUSY>;

/** A mechanism's verification step: the account when the credentials are right, null when not, BUSY when it could not get a hash slot. */
export type Verification = (slot: HashSlot) => Promise<Account | null | typeof BUSY>;

/**
 * Authenticates `user` from a client address with a mechanism's verification
 * step, under the throttle: admitted first, counted as a failure and
 * tarpitted when the step says no. `protocol` ('imap', 'pop3') goes into the
 * account's last login.
 */
export async function authenticateAccount(deps: LoginDeps, ip: string, user: string, protocol: string, verification: Verification): Promise<LoginResult> {
  const admission = await deps.throttle.begin(ip, user);
  if (!admission.admit) return { ok: false, reason: admission.reason };
  let result: Account | null | typeof BUSY = BUSY;
  try {
    result = await verification((work) => deps.throttle.hashes.run(admission.key.ip, admission.clean, work));
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
  if (account.disabled) {
    deps.log.warn({ user: account.name, ip }, 'login refused: the account is disabled');
    return { ok: false, reason: 'disabled' };
  }
  recordLogin(deps, account, protocol, ip);
  return { ok: true, account };
}

/** Checks a user name and password from a client address; `protocol` ('imap', 'pop3') goes into the account's last login. */
export function checkLogin(deps: LoginDeps, ip: string, user: string, password: string, protocol: string): Promise<LoginResult> {
  // A miss waits for a hash slot; attempts the gate refuses cost one indexed read.
  return authenticateAccount(
    deps,
    ip,
    user,
    protocol,
    async (slot) => (await fromCache(deps, user, password)) ?? (await slot(() => verify(deps, user, password))),
  );
}
