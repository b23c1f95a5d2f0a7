/**
 * `mailkeep user add|passwd|del|list|set|show` (and `app-password`, in
 * cli/app-password.ts): account administration on the store in the configured
 * data directory. Safe to run while the server runs: the store coordinates
 * processes sharing one database.
 */
import type { Command } from 'commander';
import { checkAccountName } from '../auth/administration.js';
import { switchWord } from '../config/schema.js';
import { registerAppPasswordCommands } from './app-password.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { readNewPassword } from './password-input.js';
import { STORE_FLAGS, withAdministration, withStore } from './with-store.js';

async function add(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  await withAdministration(config, async (admin, store) => {
    checkAccountName(name);
    // Checked before asking, so nobody types a password in vain; createAccount still settles races.
    if (await store.findAccount(name)) throw new CliError(`user already exists: ${name}`);
    await admin.createAccount(name, await readNewPassword(opts.passwordStdin === true));
  });
  process.stdout.write(`created user ${name}\n`);
}

async function passwd(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  await withAdministration(config, async (admin) => {
    // Asked only once the account is known to exist, so nobody types a password in vain.
    await admin.account(name);
    await admin.setPassword(name, await readNewPassword(opts.passwordStdin === true));
  });
  process.stdout.write(`changed the password of ${name}\n`);
}

async function del(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  await withAdministration(config, (admin) => admin.deleteAccount(name));
  process.stdout.write(`deleted user ${name} and all their mail\n`);
}

async function list(opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const accounts = await withStore(config, (store) => store.listAccounts());
  const names = accounts.map((a) => a.name).sort((a, b) => a.localeCompare(b));
  process.stdout.write(names.map((n) => `${n}\n`).join(''));
}

/** Reads an on|off flag of `user set`; undefined when it was not given. */
function switchFlag(opts: Record<string, unknown>, flag: string, key: string): boolean | undefined {
  if (opts[key] === undefined) return undefined;
  const on = switchWord(String(opts[key]));
  if (on === null) throw new CliError(`--${flag} takes on or off, not ${String(opts[key])}`, EXIT_USAGE);
  return on;
}

async function set(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const disabled = switchFlag(opts, 'disabled', 'disabled');
  const requireAppPasswords = switchFlag(opts, 'require-app-passwords', 'requireAppPasswords');
  if (disabled === undefined && requireAppPasswords === undefined) {
    throw new CliError('nothing to set: give --disabled on|off or --require-app-passwords on|off', EXIT_USAGE);
  }
  await withAdministration(config, async (admin) => {
    // Each change reaches running servers, which end the sessions it no longer allows (server/credential-revocation.ts).
    if (disabled !== undefined) await admin.setDisabled(name, disabled);
    if (requireAppPasswords !== undefined) await admin.setRequireAppPasswords(name, requireAppPasswords);
  });
  if (disabled !== undefined) process.stdout.write(`${disabled ? 'disabled' : 'enabled'} user ${name}\n`);
  if (requireAppPasswords !== undefined) {
    process.stdout.write(
      `${name} ${requireAppPasswords ? 'now logs in with app passwords only on IMAP and POP3' : 'may log in with the main password again'}\n`,
    );
  }
}

async function show(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const account = await withAdministration(config, (admin) => admin.account(name));
  const last = account.lastLogin;
  const shown = {
    name: account.name,
    created: account.createdAt.toISOString(),
    disabled: account.disabled,
    requireAppPasswords: account.requireAppPasswords,
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
    `passwords:  ${account.requireAppPasswords ? 'app passwords only on IMAP and POP3' : 'main password and app passwords'}`,
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
    .option('--disabled <on|off>', 'refuse (on) or allow (off) logins and end live sessions; the mail stays')
    .option('--require-app-passwords <on|off>', 'refuse (on) or allow (off) the main password on IMAP and POP3')
    .action(set);
  withConfigOptions(user.command('show').argument('<name>').description('show an account: state, last login, quota'), STORE_FLAGS)
    .option('--json', 'print JSON')
    .action(show);
  registerAppPasswordCommands(user);
}
