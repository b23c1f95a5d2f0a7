/**
 * `mailkeep migrate USER --from imaps://user@host:993`: copies an account
 * from another IMAP server; a second run copies only what changed
 * (src/mail/migrate/migrate-account.ts has the rules).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { readFirstLine } from './password-input.js';
import { formatBytes, plural, runLongOperation, summaryTail, withAccount } from './progress.js';
import { STORE_FLAGS } from './with-store.js';

/** The source password: the first line of stdin or of a file; never a flag value (it would show in `ps`). */
async function sourcePassword(opts: Record<string, unknown>): Promise<string> {
  let password: string;
  if (opts.passwordStdin === true) password = await readFirstLine(process.stdin);
  else if (typeof opts.passwordFile === 'string') password = (await readFile(opts.passwordFile, 'utf8')).split(/\r?\n/, 1)[0] ?? '';
  else throw new CliError('give the source password with --password-stdin or --password-file', EXIT_USAGE);
  if (password === '') throw new CliError('the source password is empty', EXIT_USAGE);
  return password;
}

async function run(user: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const password = await sourcePassword(opts);
  // Loaded on use: the IMAP client library is needed by this command only.
  const { migrateAccount } = await import('../mail/migrate/migrate-account.js');
  await withAccount(config, user, (store, accountId) =>
    runLongOperation(
      'migrate',
      (s) =>
        `copied ${plural(s.messages, 'message', 'messages')} (${formatBytes(s.bytes)}) from ${plural(s.mailboxes, 'mailbox', 'mailboxes')}, updated the flags of ${plural(s.flagsUpdated, 'message', 'messages')}${summaryTail(s)}`,
      (signal, progress, warn) =>
        migrateAccount(store, accountId, {
          url: opts.from as string,
          password,
          insecure: opts.insecure === true,
          maxMessageSize: config.limits.appendLimit,
          progress,
          warn,
          signal,
        }).catch((err: unknown) => {
          // Connection and login failures are the user's to fix, not a crash.
          const e = err as { responseText?: string; code?: string; message?: string };
          if (e.responseText !== undefined || e.code !== undefined) throw new CliError(`source server: ${e.responseText ?? e.message ?? e.code}`);
          throw err;
        }),
    ),
  );
}

/** Registers `migrate`. */
export function registerMigrateCommand(program: Command): void {
  withConfigOptions(
    program
      .command('migrate')
      .argument('<user>', 'account to copy into')
      .description('copy all mailboxes, flags and dates from another IMAP server (incremental when run again)'),
    STORE_FLAGS,
  )
    .requiredOption('--from <url>', 'source account: imaps://user@host:993 (TLS) or imap://user@host:143 (STARTTLS when offered)')
    .option('--password-stdin', "read the source account's password from the first line of stdin")
    .option('--password-file <file>', "read the source account's password from the first line of a file")
    .option('--insecure', "accept the source server's TLS certificate without verifying it")
    .action(run);
}
