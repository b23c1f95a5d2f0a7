/**
 * `mailkeep user app-password add|list|revoke`: an account's app passwords
 * (auth/app-passwords.ts). `add` prints the generated password once; only its
 * hash is stored. `revoke` reaches running servers through the store (the
 * account's channel), which end the sessions that logged in with it.
 */
import type { Command } from 'commander';
import { APP_PASSWORD_LIMITS, APP_PASSWORD_PROTOCOLS, generateAppPassword, parseExpiry, parseProtocols } from '../auth/app-passwords.js';
import { hashPassword, passwordHashing } from '../auth/password.js';
import { isLive } from '../store/app-password-types.js';
import { type AppPassword, StoreError } from '../store/types.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { STORE_FLAGS, withAdministration } from './with-store.js';

/** Longest app password name. */
const MAX_NAME_LENGTH = 64;

function checkName(name: string): void {
  if (name.trim() === '' || name.length > MAX_NAME_LENGTH || /[\p{Cc}]/u.test(name)) {
    throw new CliError(`an app password name is 1 to ${MAX_NAME_LENGTH} printable characters`, EXIT_USAGE);
  }
}

async function add(user: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const name = String(opts.name ?? '');
  checkName(name);
  const protocols = parseProtocols(String(opts.protocols ?? APP_PASSWORD_PROTOCOLS.join(',')));
  if (protocols === null) throw new CliError(`--protocols takes a comma-separated list of ${APP_PASSWORD_PROTOCOLS.join(', ')}`, EXIT_USAGE);
  const now = new Date();
  const expiresAt = opts.expires === undefined ? null : parseExpiry(String(opts.expires), now);
  if (opts.expires !== undefined && expiresAt === null) {
    throw new CliError('--expires takes a duration (90d, 12h, 30m, 2w) or a future date (2027-01-31), at most ten years ahead', EXIT_USAGE);
  }
  const { password, entry } = await withAdministration(config, async (admin, store) => {
    const account = await admin.account(user);
    const taken = new Set((await store.listAppPasswords(account.id)).map((p) => p.lookup));
    const generated = generateAppPassword(taken);
    const hash = await hashPassword(generated.password, passwordHashing(config));
    try {
      const stored = await store.addAppPassword(account.id, { name, lookup: generated.lookup, hash, protocols, expiresAt }, now, APP_PASSWORD_LIMITS);
      return { password: generated.password, entry: stored };
    } catch (err) {
      if (err instanceof StoreError && err.code === 'ALREADYEXISTS') throw new CliError(`${user} already has an app password named "${name}"`);
      if (err instanceof StoreError && err.code === 'LIMIT') throw new CliError(`${user} has ${APP_PASSWORD_LIMITS.maxLive} app passwords: revoke one first`);
      throw err;
    }
  });
  const expiry = entry.expiresAt ? `expires ${entry.expiresAt.toISOString()}` : 'never expires';
  process.stdout.write(
    `created app password "${name}" for ${user} (${entry.protocols.join(', ')}; ${expiry})\n\n    ${password}\n\nIt is shown only now: enter it in the device or program instead of the account's password.\n`,
  );
}

/** One app password as `list` shows it. */
function describe(p: AppPassword, now: Date) {
  return {
    name: p.name,
    protocols: p.protocols,
    created: p.createdAt.toISOString(),
    expires: p.expiresAt?.toISOString() ?? null,
    lastUsed: p.lastUsed ? { at: p.lastUsed.at.toISOString(), protocol: p.lastUsed.protocol, address: p.lastUsed.address } : null,
    state: p.revokedAt ? 'revoked' : isLive(p, now) ? 'active' : 'expired',
    revoked: p.revokedAt?.toISOString() ?? null,
  };
}

async function list(user: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const entries = await withAdministration(config, async (admin, store) => store.listAppPasswords((await admin.account(user)).id));
  const now = new Date();
  const shown = entries.map((p) => describe(p, now));
  if (opts.json === true) {
    process.stdout.write(`${JSON.stringify(shown)}\n`);
    return;
  }
  if (shown.length === 0) {
    process.stdout.write(`${user} has no app passwords\n`);
    return;
  }
  const rows = [
    ['NAME', 'STATE', 'PROTOCOLS', 'CREATED', 'EXPIRES', 'LAST USED'],
    ...shown.map((p) => [
      p.name,
      p.state,
      p.protocols.join(','),
      p.created,
      p.expires ?? 'never',
      p.lastUsed ? `${p.lastUsed.at} ${p.lastUsed.protocol.toUpperCase()} from ${p.lastUsed.address}` : 'never',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write(
    rows
      .map(
        (r) =>
          `${r
            .map((c, i) => c.padEnd(widths[i]!))
            .join('  ')
            .trimEnd()}\n`,
      )
      .join(''),
  );
}

async function revoke(user: string, name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const revoked = await withAdministration(config, async (admin, store) => {
    const account = await admin.account(user);
    try {
      return await store.revokeAppPassword(account.id, name, new Date(), APP_PASSWORD_LIMITS);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NONEXISTENT') throw new CliError(`${user} has no app password named "${name}"`);
      throw err;
    }
  });
  process.stdout.write(`revoked app password "${revoked.name}" of ${user}; its sessions end now\n`);
}

/** Registers `user app-password` and its subcommands under `user`. */
export function registerAppPasswordCommands(user: Command): void {
  const cmd = user.command('app-password').description("manage an account's app passwords (one per device or program, revocable)");
  withConfigOptions(cmd.command('add').argument('<user>').description('create an app password and print it once'), STORE_FLAGS)
    .requiredOption('--name <name>', 'what it is for ("Phone"), unique per account')
    .option('--protocols <list>', `comma-separated: ${APP_PASSWORD_PROTOCOLS.join(', ')} (default: all)`)
    .option('--expires <when>', 'a duration (90d, 12h, 30m, 2w) or a date (2027-01-31)')
    .action(add);
  withConfigOptions(cmd.command('list').argument('<user>').description('show name, state, protocols, created, expires, last use'), STORE_FLAGS)
    .option('--json', 'print JSON')
    .action(list);
  withConfigOptions(cmd.command('revoke').argument('<user>').argument('<name>').description('revoke an app password and end its sessions'), STORE_FLAGS).action(
    revoke,
  );
}
