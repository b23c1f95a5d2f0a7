/**
 * One password check shared by every protocol (IMAP LOGIN/AUTHENTICATE, POP3
 * USER/PASS/AUTH): throttling per client address and per account, constant
 * work for unknown users, and the tarpit delay after a failure. Passwords
 * never reach a log. Other credential kinds (OAuth bearer tokens,
 * auth/oauth/token-login.ts) run through the same flow, checkCredential.
 *
 * Order: the throttle admits the attempt first; then the account is read and
 * the credential cache (auth/credential-cache.ts) asked; only a miss waits
 * for a hash slot and pays the full hash. A hit settles as a success through
 * the same throttle accounting; a failure is never cached, so every wrong
 * password costs a hash, counts and is tarpitted exactly as without a cache.
 *
 * App passwords (auth/app-passwords.ts) go through the same path: the
 * password's shape picks the one stored hash it is checked against, so every
 * attempt costs one hash, the same throttle, tarpit and audit.
 *
 * SCRAM (auth/sasl-login.ts) checks its proof in a checkCredential callback
 * too, and a main-password login keeps the account's SCRAM keys current:
 * derived when missing (auth/scram-keys.ts), and derived again beside a
 * rehashed password, since keys belong to the hash they were stored with.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { countLogin } from '../metrics/metrics.js';
import type { Config } from '../config/schema.js';
import type { Account, AppPassword, MailStore } from '../store/types.js';
import { appCredential, asAppPassword, candidateFor } from './app-passwords.js';
import type { CredentialCache } from './credential-cache.js';
import { BUSY } from './hash-gate.js';
import { recordAppPasswordUse, recordLogin } from './last-login.js';
import { hashPassword, needsRehash, passwordHashing, verifyPassword } from './password.js';
import { ensureScramKeys, scramKeysFor } from './scram-keys.js';
import type { Admission, AuthThrottle } from './throttle.js';

/** What a login attempt needs. */
export interface LoginDeps {
  store: MailStore;
  throttle: AuthThrottle;
  credentials: CredentialCache;
  /** `[auth]` and `[auth-throttle]`: how passwords are hashed. */
  config: Pick<Config, 'auth' | 'authThrottle'>;
  log: Logger;
}

/**
 * The outcome: the account and the credential it used ('password', `app:<id>`
 * for an app password, 'oauth' for a bearer token), or why not (the caller
 * maps it to its protocol's reply): `throttled`, `busy` and `unavailable` (a
 * token issuer that does not answer) are temporary refusals without a
 * credential check; `disabled` and `app-password-required` (the main password
 * of an account that requires app passwords) follow a right credential, told
 * only then, so they reveal nothing to a guesser.
 */
export type LoginResult =
  | { ok: true; account: Account; credential: string }
  | { ok: false; reason: 'failed' | 'throttled' | 'busy' | 'unavailable' | 'disabled' | 'app-password-required' };

/** Longest user name looked up; longer ones simply fail. */
const MAX_USER_LENGTH = 256;

/** The account of that name; null for an unknown one or a name too long to look up. */
export const findAccount = (deps: Pick<LoginDeps, 'store'>, user: string): Promise<Account | null> =>
  user.length <= MAX_USER_LENGTH ? deps.store.findAccount(user) : Promise.resolve(null);

/** The one stored hash an attempt is checked against (auth/app-passwords.ts: one hash per attempt). */
interface Target {
  account: Account;
  hash: string;
  /** The password as hashed: an app password in its canonical form. */
  secret: string;
  /** The app password, or null for the main password. */
  app: AppPassword | null;
}

/** Reads the account and picks the hash `password` is to be checked against; null for an unknown account. */
async function target(deps: LoginDeps, user: string, password: string): Promise<Target | null> {
  const account = await findAccount(deps, user);
  if (account === null) return null;
  // Only a password of app-password shape costs the extra indexed read.
  const candidate = asAppPassword(password) ? candidateFor(password, await deps.store.listAppPasswords(account.id), new Date()) : null;
  if (candidate) return { account, hash: candidate.entry.hash, secret: candidate.canonical, app: candidate.entry };
  return { account, hash: account.passwordHash, secret: password, app: null };
}

/** A verified target, and whether it may log in over `protocol` (an app password names its protocols). */
function accepted(deps: LoginDeps, t: Target, protocol: string): Target | null {
  if (t.app === null || t.app.protocols.includes(protocol)) return t;
  deps.log.info({ user: t.account.name, appPassword: t.app.name, protocol }, 'app password not allowed for this protocol');
  return null;
}

/**
 * The target when the cache holds this password for its current stored hash.
 * Read from the store each time, so a password changed, an app password
 * revoked or an account deleted by another process or node is seen at once.
 */
async function fromCache(deps: LoginDeps, user: string, password: string, protocol: string): Promise<Target | null> {
  if (!deps.credentials.enabled) return null;
  const t = await target(deps, user, password);
  if (t === null || !deps.credentials.holds(t.account.id, t.secret, t.hash)) return null;
  deps.log.debug({ user: t.account.name }, 'password accepted from the credential cache');
  return accepted(deps, t, protocol);
}

/** Looks the account up and verifies the password: the work one hash slot pays for (exactly one hash). */
async function verify(deps: LoginDeps, user: string, password: string, protocol: string): Promise<Target | null> {
  const hashing = passwordHashing(deps.config);
  // Read again: the attempt may have waited for its slot while the account changed.
  const t = await target(deps, user, password);
  // verifyPassword spends one full hash even without a stored hash, so timing does not reveal accounts.
  const ok = await verifyPassword(t?.secret ?? password, t?.hash ?? null, hashing);
  if (!ok || t === null) return null;
  deps.credentials.remember(t.account.id, t.secret, t.hash);
  if (needsRehash(t.hash, hashing)) rehash(deps, t);
  else if (t.app === null && hashing.scramIterations !== null) ensureScramKeys(deps, t.account, t.secret, hashing.scramIterations);
  return accepted(deps, t, protocol);
}

/**
 * Another algorithm or stronger parameters than when the password (or app
 * password) was set (scrypt → argon2id): upgrade quietly. Only after a full
 * verification, so cache hits on the old hash never start hashes outside the gate.
 */
function rehash(deps: LoginDeps, { account, app, secret, hash }: Target): void {
  const hashing = passwordHashing(deps.config);
  void hashPassword(secret, hashing)
    .then(async (h) => {
      // Remembered before it is stored: an entry names its hash, so it is used only once the store has it,
      // and a login right after the swap finds it (no second full hash).
      deps.credentials.remember(account.id, secret, h);
      if (app === null) {
        // The keys are tied to the stored hash (store/scram-key-types.ts): derived before the swap, stored right after it.
        const keys = await scramKeysFor(secret, hashing);
        // Only over the hash this login verified: a password changed meanwhile stays changed.
        if (await deps.store.upgradePasswordHash(account.id, hash, h)) await deps.store.setScramCredentials(account.id, h, keys);
      } else await deps.store.setAppPasswordHash(account.id, app.id, h);
    })
    .catch((err: unknown) => deps.log.warn({ err }, 'password rehash failed'));
}

/** What a credential proves: the account, the credential's name and, for an app password, its entry. */
export interface Proof {
  account: Account;
  credential: string;
  app: AppPassword | null;
}

/**
 * A credential check's answer: what it proves, null when it proves nothing
 * (a failure: counted and tarpitted), or why it was not made (`busy`: no
 * hash slot; `unavailable`: the token issuer could not be asked), which
 * counts as neither.
 */
export type Verification = Proof | null | { notChecked: 'busy' | 'unavailable' };

/**
 * The throttle flow every credential kind goes through: admission for `ip`
 * and the `claimed` user name, the check, the failure count and tarpit, then
 * the disabled-account and app-password-only refusals and the last-login
 * record under `protocol`. Every outcome is counted by protocol (`protocol`
 * up to a "/") and `mechanism` (a SASL mechanism name, or "password" for IMAP
 * LOGIN and POP3 USER/PASS).
 */
export async function checkCredential(
  deps: LoginDeps,
  ip: string,
  claimed: string,
  protocol: string,
  mechanism: string,
  verifyAdmitted: (admission: Admission & { admit: true }) => Promise<Verification>,
): Promise<LoginResult> {
  const result = await throttledCheck(deps, ip, claimed, protocol, verifyAdmitted);
  countLogin(protocol.split('/')[0]!, mechanism, result.ok ? 'succeeded' : result.reason);
  return result;
}

async function throttledCheck(
  deps: LoginDeps,
  ip: string,
  claimed: string,
  protocol: string,
  verifyAdmitted: (admission: Admission & { admit: true }) => Promise<Verification>,
): Promise<LoginResult> {
  const admission = await deps.throttle.begin(ip, claimed);
  if (!admission.admit) return { ok: false, reason: admission.reason };
  let result: Verification = { notChecked: 'busy' };
  try {
    result = await verifyAdmitted(admission);
  } finally {
    // Runs on errors too: an attempt never stays in flight.
    const outcome = result === null ? 'failed' : 'notChecked' in result ? 'abandoned' : 'succeeded';
    const delay = await deps.throttle.finish(admission, outcome);
    if (outcome === 'failed') {
      deps.log.info({ user: claimed.slice(0, 64), ip }, 'authentication failed');
      if (delay > 0) await sleep(delay);
    }
  }
  if (result === null) return { ok: false, reason: 'failed' };
  if ('notChecked' in result) return { ok: false, reason: result.notChecked };
  const { account, app, credential } = result;
  if (account.disabled) {
    deps.log.warn({ user: account.name, ip }, 'login refused: the account is disabled');
    return { ok: false, reason: 'disabled' };
  }
  // Only the main password is refused: app passwords and tokens are what such an account uses.
  if (credential === PASSWORD_CREDENTIAL && account.requireAppPasswords) {
    deps.log.warn({ user: account.name, ip, protocol }, 'login refused: the account requires app passwords');
    return { ok: false, reason: 'app-password-required' };
  }
  recordLogin(deps, account, protocol, ip);
  if (app !== null) recordAppPasswordUse(deps, app, protocol, ip);
  return { ok: true, account, credential };
}

/** The credential name of an account's main password. */
export const PASSWORD_CREDENTIAL = 'password';

const proof = ({ account, app }: Target): Proof => ({ account, app, credential: app === null ? PASSWORD_CREDENTIAL : appCredential(app.id) });

/**
 * Checks a user name and password (or app password) from a client address; `protocol` ('imap', 'pop3') goes into
 * the account's last login; `mechanism` as checkCredential's.
 */
export function checkLogin(deps: LoginDeps, ip: string, user: string, password: string, protocol: string, mechanism: string): Promise<LoginResult> {
  return checkCredential(deps, ip, user, protocol, mechanism, async (admission) => {
    // A miss waits for a hash slot; attempts the gate refuses cost one indexed read.
    const found =
      (await fromCache(deps, user, password, protocol)) ??
      (await deps.throttle.hashes.run(admission.key.ip, admission.clean, () => verify(deps, user, password, protocol)));
    return found === BUSY ? { notChecked: 'busy' } : found === null ? null : proof(found);
  });
}
