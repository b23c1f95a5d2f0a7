/**
 * `mailkeep user add|passwd|del|list|set|show`: account administration on the store
 * in the configured data directory. Safe to run while the server runs: the
 * store coordinates processes sharing one database.
 */
import type { Command } from 'commander';
import { accountNameProblem } from '../auth/account-name.js';
import { hashPassword } from '../auth/password.js';
import { deriveScramCredentials } from '../auth/scram-keys.js';
import type { Config } from '../config/schema.js';
import { switchWord } from '../config/schema.js';
import { type Account, type MailStore, StoreError } from '../store/types.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { readNewPassword } from './password-input.js';
import { requireAccount, STORE_FLAGS, withStore } from './with-store.js';

function checkName(name: string): void {
  const problem = accountNameProblem(name);
  if (problem !== null) throw new CliError(`invalid user name: ${problem}`, EXIT_USAGE);
}

/** Stores a new password's hash and, with SCRAM on, its SCRAM keys (RFC 5802 §3), so SCRAM works before the first password login. */
async function storePassword(config: Config, store: MailStore, account: Account, password: string, hash: string): Promise<void> {
  if (account.passwordHash !== hash) await store.setPasswordHash(account.id, hash);
  if (config.auth.scram) await store.setScramCredentials(account.id, hash, await deriveScramCredentials(password, config.auth.scramIterations));
}

async function add(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  checkName(name);
  await withStore(config, async (store) => {
    const exists = (): CliError => new CliError(`user already exists: ${name}`);
    // Checked before asking, so nobody types a password in vain; createAccount still settles races.
    if (await store.findAccount(name)) throw exists();
    const password = await readNewPassword(opts.passwordStdin === true);
    const hash = await hashPassword(password, config.authThrottle.passwordHashCost);
    let account: Account;
    try {
      account = await store.createAccount(name, hash);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'ALREADYEXISTS') throw exists();
      throw err;
    }
    await storePassword(config, store, account, password, hash);
  });
  process.stdout.write(`created user ${name}\n`);
}

async function passwd(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  await withStore(config, async (store) => {
    const account = await requireAccount(store, name);
    // Asked only once the account is known to exist, so nobody types a password in vain.
    const password = await readNewPassword(opts.passwordStdin === true);
    await storePassword(config, store, account, password, await hashPassword(password, config.authThrottle.passwordHashCost));
  });
  process.stdout.write(`changed the password of ${name}\n`);
}

async function del(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  await withStore(config, async (store) => {
    const account = await requireAccount(store, name);
    await store.deleteAccount(account.id);
  });
  process.stdout.write(`deleted user ${name} and all their mail\n`);
}

async function list(opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const accounts = await withStore(config, (store) => store.listAccounts());
  const names = accounts.map((a) => a.name).sort((a, b) => a.localeCompare(b));
  process.stdout.write(names.map((n) => `${n}\n`).join(''));
}

async function set(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  if (opts.disabled === undefined) throw new CliError('nothing to set: give --disabled on|off', EXIT_USAGE);
  const disabled = switchWord(String(opts.disabled));
  if (disabled === null) throw new CliError(`--disabled takes on or off, not ${String(opts.disabled)}`, EXIT_USAGE);
  await withStore(config, async (store) => {
    const account = await requireAccount(store, name);
    await store.setDisabled(account.id, disabled);
  });
  // Sessions already logged in stay until they end; new logins are refused at once.
  process.stdout.write(`${disabled ? 'disabled' : 'enabled'} user ${name}\n`);
}

async function show(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const account = await withStore(config, (store) => requireAccount(store, name));
  const last = account.lastLogin;
  const shown = {
    name: account.name,
    created: account.createdAt.toISOString(),
    disabled: account.disabled,
    lastLogin: last ? { at: last.at.toISOString(), protocol: last.protocol, address: last.address } : null,
    quota: { storage: account.quotaStorage, messages: account.quotaMessages },
  };
  if (opts.json === true) {
    process.stdout.write(`${JSON.stringify(shown)}\n`);
    return;
  }
  const lines = [
    `user:       ${shown.name}`,
    `created:    ${shown.created}`,
    `state:      ${account.disabled ? 'disabled (logins refused)' : 'enabled'}`,
    `last login: ${last ? `${shown.lastLogin?.at} over ${last.protocol.toUpperCase()} from ${last.address}` : 'never'}`,
    `quota:      storage ${account.quotaStorage ?? 'unlimited'}, messages ${account.quotaMessages ?? 'unlimited'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Registers `user` and its subcommands. */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage accounts');
  withConfigOptions(user.command('add').argument('<name>').description('create an account with its INBOX'), STORE_FLAGS)
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(add);
  withConfigOptions(user.command('passwd').argument('<name>').description("change an account's password"), STORE_FLAGS)
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(passwd);
  withConfigOptions(user.command('del').argument('<name>').description('delete an account and all its mail'), STORE_FLAGS).action(del);
  withConfigOptions(user.command('list').description('list account names'), STORE_FLAGS).action(list);
  withConfigOptions(user.command('set').argument('<name>').description("change an account's settings"), STORE_FLAGS)
    .option('--disabled <on|off>', 'refuse (on) or allow (off) logins; the mail stays')
    .action(set);
  withConfigOptions(user.command('show').argument('<name>').description('show an account: state, last login, quota'), STORE_FLAGS)
    .option('--json', 'print JSON')
    .action(show);
}
