/**
 * Administrative changes to accounts, aliases, quotas, API tokens and web admin accounts, shared
 * by the command line (cli/user.ts, alias.ts, quota.ts, admin.ts) and the
 * admin HTTP API (web/admin/), so both validate alike and every change is
 * recorded in the store's audit log: who (`token:NAME`, `cli:USER`), what,
 * which target, from where, and how it ended.
 *
 * Invariants: validation happens before anything is written; each change is
 * one store call; the audit entry is written after the outcome is known,
 * failures included (their outcome is the error code).
 */
import type { AdminStore, ApiTokenInfo } from '../store/admin-types.js';
import { type Account, type AccountStore, type AppPasswordStore, type MailboxStore, type QuotaLimits, type ScramKeyStore, StoreError } from '../store/types.js';
import { accountNameProblem } from './account-name.js';
import { adminNameProblem, newApiToken } from './api-token.js';
import { hashPassword, type PasswordHashing, storedPasswordProblem } from './password.js';
import { scramKeysFor } from './scram-keys.js';
import { newTotpSecret } from './totp.js';

/** Why an administrative change was refused. */
export type AdminErrorCode = 'invalid' | 'exists' | 'not-found';

/** A refused change; the message is safe to show to the administrator. */
export class AdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** Who acts, and from where. */
export interface AdminActor {
  actor: string;
  address: string;
}

/** The store roles administration uses. */
export type AdminStoreRoles = AccountStore &
  MailboxStore &
  AdminStore &
  Pick<AppPasswordStore, 'setRequireAppPasswords'> &
  Pick<ScramKeyStore, 'setScramCredentials'>;

/** An alias with its account's name. */
export interface NamedAlias {
  address: string;
  user: string;
}

/** Longest password accepted, in characters. */
export const MAX_PASSWORD = 1024;
/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets. */
const MAX_ADDRESS_OCTETS = 254;
/** Audit targets are admin input: kept to this many characters. */
const MAX_AUDIT_TARGET = 300;

/** Why `password` cannot be set, or null when it can. */
export function passwordProblem(password: string): string | null {
  if (password === '') return 'refusing an empty password';
  if (password.length > MAX_PASSWORD) return `the password is longer than ${MAX_PASSWORD} characters`;
  return storedPasswordProblem(password);
}

/** Refuses a name that cannot be an account name. */
export function checkAccountName(name: string): void {
  const problem = accountNameProblem(name);
  if (problem !== null) throw new AdminError('invalid', `invalid user name: ${problem}`);
}

/** An alias key: `local@domain`, or a bare local part valid in every `domains` domain. */
function checkAddress(address: string): void {
  if (address === '' || Buffer.byteLength(address) > MAX_ADDRESS_OCTETS || /[\s\p{C}<>]/u.test(address) || address.endsWith('@')) {
    throw new AdminError('invalid', `invalid address: ${JSON.stringify(address)}`);
  }
}

/** A quota limit as text: a non-negative integer, or "none" for unlimited. */
export function parseQuotaLimit(value: string, what: string): number | null {
  if (value.toLowerCase() === 'none') return null;
  const n = /^[0-9]{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new AdminError('invalid', `${what} takes a whole number or "none", not ${JSON.stringify(value)}`);
  return n;
}

/** Administrative operations on behalf of one actor; every change is audited. */
export class Administration {
  constructor(
    private readonly store: AdminStoreRoles,
    private readonly by: AdminActor,
    /** How new password hashes are made ([auth] password-hash and its parameters). */
    private readonly hashing: PasswordHashing,
  ) {}

  /** The account of that name, or AdminError not-found. */
  async account(name: string): Promise<Account> {
    const account = await this.store.findAccount(name);
    if (!account) throw new AdminError('not-found', `no such user: ${name}`);
    return account;
  }

  /** Creates an account with its INBOX and default mailboxes, and its SCRAM keys when SCRAM is on. */
  async createAccount(name: string, password: string): Promise<Account> {
    return this.audited('account.create', name, async () => {
      checkAccountName(name);
      checkPassword(password);
      const [hash, keys] = await Promise.all([hashPassword(password, this.hashing), scramKeysFor(password, this.hashing)]);
      let account: Account;
      try {
        account = await this.store.createAccount(name, hash);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'ALREADYEXISTS') throw new AdminError('exists', `user already exists: ${name}`);
        throw err;
      }
      // RFC 5802 §3: keys now, so SCRAM works before the first password login.
      await this.store.setScramCredentials(account.id, hash, keys);
      return account;
    });
  }

  /**
   * Replaces an account's password and its SCRAM keys; credentials cached
   * (auth/credential-cache.ts) and SCRAM keys stored for the old hash no longer match.
   */
  async setPassword(name: string, password: string): Promise<Account> {
    return this.audited('account.password', name, async () => {
      checkPassword(password);
      const account = await this.account(name);
      const [hash, keys] = await Promise.all([hashPassword(password, this.hashing), scramKeysFor(password, this.hashing)]);
      await this.store.setPasswordHash(account.id, hash);
      await this.store.setScramCredentials(account.id, hash, keys);
      return account;
    });
  }

  /** Refuses (true) or allows (false) the account's logins; the mail stays. */
  async setDisabled(name: string, disabled: boolean): Promise<Account> {
    return this.audited(disabled ? 'account.disable' : 'account.enable', name, async () => {
      const account = await this.account(name);
      await this.store.setDisabled(account.id, disabled);
      return account;
    });
  }

  /** Refuses (true) or allows (false) the account's main password on IMAP and POP3 (app passwords and tokens still work). */
  async setRequireAppPasswords(name: string, required: boolean): Promise<Account> {
    return this.audited(required ? 'account.require-app-passwords' : 'account.allow-main-password', name, async () => {
      const account = await this.account(name);
      await this.store.setRequireAppPasswords(account.id, required);
      return account;
    });
  }

  /** Deletes an account, its mail and its aliases. */
  async deleteAccount(name: string): Promise<Account> {
    return this.audited('account.delete', name, async () => {
      const account = await this.account(name);
      await this.store.deleteAccount(account.id);
      return account;
    });
  }

  /** Sets the limits given; a limit left undefined keeps its value. Returns the limits now in force. */
  async setQuota(name: string, change: { storage?: number | null; messages?: number | null }): Promise<QuotaLimits> {
    return this.audited('quota.set', name, async () => {
      const account = await this.account(name);
      const next: QuotaLimits = {
        storage: change.storage === undefined ? account.quotaStorage : change.storage,
        messages: change.messages === undefined ? account.quotaMessages : change.messages,
      };
      await this.store.setQuota(account.id, next);
      return next;
    });
  }

  /** Points an address at an account. */
  async addAlias(address: string, user: string): Promise<void> {
    await this.audited('alias.add', `${address} -> ${user}`, async () => {
      checkAddress(address);
      const account = await this.account(user);
      try {
        await this.store.addAlias(address, account.id);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'ALREADYEXISTS') throw new AdminError('exists', `alias already exists: ${address}`);
        throw err;
      }
    });
  }

  /** Removes an alias. */
  async deleteAlias(address: string): Promise<void> {
    await this.audited('alias.delete', address, async () => {
      try {
        await this.store.deleteAlias(address);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'NONEXISTENT') throw new AdminError('not-found', `no such alias: ${address}`);
        throw err;
      }
    });
  }

  /** Every alias by address with its account's name; only those of `user` when given. */
  async aliases(user?: string): Promise<NamedAlias[]> {
    const only = user === undefined ? undefined : (await this.account(user)).id;
    const names = new Map((await this.store.listAccounts()).map((a) => [a.id, a.name]));
    return (await this.store.listAliases())
      .filter((a) => only === undefined || a.accountId === only)
      .map((a) => ({ address: a.address, user: names.get(a.accountId) ?? '?' }));
  }

  /** Creates an API token; returns the token itself, which is stored only as its hash. */
  async addApiToken(name: string, expiresAt: Date | null): Promise<string> {
    return this.audited('token.add', name, async () => {
      const problem = adminNameProblem(name, 'a token name');
      if (problem !== null) throw new AdminError('invalid', problem);
      const { token, hash } = newApiToken();
      try {
        await this.store.addApiToken(name, hash, expiresAt);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'ALREADYEXISTS') throw new AdminError('exists', `token already exists: ${name}`);
        throw err;
      }
      return token;
    });
  }

  /** Creates a web admin account with a new TOTP secret (RFC 6238); returns the secret for enrolment. */
  async addAdminUser(name: string, password: string): Promise<string> {
    return this.audited('admin-user.add', name, async () => {
      const problem = adminNameProblem(name, 'an admin name');
      if (problem !== null) throw new AdminError('invalid', problem);
      checkPassword(password);
      const secret = newTotpSecret();
      try {
        await this.store.addAdminUser(name, await hashPassword(password, this.hashing), secret);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'ALREADYEXISTS') throw new AdminError('exists', `admin user already exists: ${name}`);
        throw err;
      }
      return secret;
    });
  }

  /** Every API token (names and dates; tokens themselves are not kept). */
  apiTokens(): Promise<ApiTokenInfo[]> {
    return this.store.listApiTokens();
  }

  /** Revokes an API token at once. */
  async revokeApiToken(name: string): Promise<void> {
    await this.audited('token.revoke', name, async () => {
      try {
        await this.store.revokeApiToken(name);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'NONEXISTENT') throw new AdminError('not-found', `no such token: ${name}`);
        throw err;
      }
    });
  }

  /** Runs an action that is not a store change here (a session kick) and audits it. */
  audited<T>(action: string, target: string | null, fn: () => Promise<T>): Promise<T> {
    return fn().then(
      async (result) => {
        await this.record(action, target, 'ok');
        return result;
      },
      async (err: unknown) => {
        await this.record(action, target, err instanceof AdminError ? err.code : 'error');
        throw err;
      },
    );
  }

  private record(action: string, target: string | null, outcome: string): Promise<void> {
    return this.store.recordAudit({
      at: new Date(),
      actor: this.by.actor,
      action,
      target: target === null ? null : target.slice(0, MAX_AUDIT_TARGET),
      address: this.by.address,
      outcome,
    });
  }
}

function checkPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem !== null) throw new AdminError('invalid', problem);
}
