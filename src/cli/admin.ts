/**
 * `mailkeep admin token add|list|revoke`: the bearer tokens of the admin HTTP
 * API (web/admin/); `mailkeep admin user add`: web admin accounts. A token is printed once, when it is made; the store keeps
 * only its SHA-256 (auth/api-token.ts says why that suffices).
 */
import type { Command } from 'commander';
import { parseExpiry } from '../auth/api-token.js';
import { otpauthUri } from '../auth/totp.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { readNewPassword } from './password-input.js';
import { STORE_FLAGS, withAdministration } from './with-store.js';

async function add(opts: Record<string, unknown>): Promise<void> {
  const name = String(opts.name);
  let expiresAt: Date | null = null;
  if (typeof opts.expires === 'string') {
    expiresAt = parseExpiry(opts.expires);
    if (expiresAt === null)
      throw new CliError(`--expires takes days (90d), hours (12h) or an ISO date in the next 10 years, not ${JSON.stringify(opts.expires)}`, EXIT_USAGE);
  }
  const token = await withAdministration(configFromOptions(opts), (admin) => admin.addApiToken(name, expiresAt));
  process.stderr.write(`created token ${name}${expiresAt ? `, expires ${expiresAt.toISOString()}` : ''}; it is shown only now:\n`);
  process.stdout.write(`${token}\n`);
}

async function list(opts: Record<string, unknown>): Promise<void> {
  const tokens = await withAdministration(configFromOptions(opts), (admin) => admin.apiTokens());
  const now = Date.now();
  const shown = tokens.map((t) => ({
    name: t.name,
    created: t.createdAt.toISOString(),
    expires: t.expiresAt?.toISOString() ?? null,
    expired: t.expiresAt !== null && t.expiresAt.getTime() <= now,
  }));
  if (opts.json === true) {
    process.stdout.write(`${JSON.stringify(shown)}\n`);
    return;
  }
  const lines = shown.map(
    (t) => `${t.name}  created ${t.created}  ${t.expires === null ? 'never expires' : `${t.expired ? 'expired' : 'expires'} ${t.expires}`}`,
  );
  process.stdout.write(lines.map((l) => `${l}\n`).join(''));
}

async function revoke(name: string, opts: Record<string, unknown>): Promise<void> {
  await withAdministration(configFromOptions(opts), (admin) => admin.revokeApiToken(name));
  process.stdout.write(`revoked token ${name}\n`);
}

async function addUser(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const password = await readNewPassword(opts.passwordStdin === true);
  const secret = await withAdministration(config, (admin) => admin.addAdminUser(name, password));
  const uri = otpauthUri(`mailkeep ${config.hostname}`, name, secret);
  // Loaded here only: nothing else of the CLI needs the QR encoder.
  const { toString: qr } = await import('qrcode');
  const code = await qr(uri, { type: 'terminal', small: true, errorCorrectionLevel: 'M' });
  process.stdout.write(
    `created admin user ${name}; enrol its second factor (TOTP) now, this is shown only once:\n${uri}\n${code}\nSign in at /admin/ on the admin listener with the password and the app's 6-digit code.\n`,
  );
}

/** Registers `admin` and its subcommands. */
export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('administration of the admin HTTP API');
  const token = admin.command('token').description('API tokens (Authorization: Bearer) of the admin API');
  withConfigOptions(token.command('add').description('create a token and print it (once)'), STORE_FLAGS)
    .requiredOption('--name <name>', 'a unique name: letters, digits, ".", "_", "-"')
    .option('--expires <when>', 'expiry: days (90d), hours (12h) or an ISO 8601 date; default: never')
    .action(add);
  withConfigOptions(token.command('list').description('list tokens: name, creation, expiry'), STORE_FLAGS).option('--json', 'print JSON').action(list);
  const user = admin.command('user').description('web admin accounts (password and TOTP; separate from mail accounts)');
  withConfigOptions(user.command('add').argument('<name>').description('create a web admin account and print its TOTP enrolment (otpauth URI and QR code)'), [
    ...STORE_FLAGS,
    'hostname',
  ])
    .option('--password-stdin', 'read the password from the first line of stdin')
    .action(addUser);
  withConfigOptions(token.command('revoke').argument('<name>').description('revoke a token at once'), STORE_FLAGS).action(revoke);
}
