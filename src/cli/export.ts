/**
 * `mailkeep export USER PATH --format mbox|maildir`: an account's mail with
 * flags and dates (src/mail/export/export-account.ts has the layouts).
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { exportAccount, type ExportFormat } from '../mail/export/export-account.js';
import type { MboxFormat } from '../mail/import/mbox-reader.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { formatBytes, plural, runLongOperation, withAccount } from './progress.js';
import { STORE_FLAGS } from './with-store.js';

async function run(user: string, path: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  await withAccount(config, user, (store, accountId) =>
    runLongOperation(
      'export',
      (s) => `exported ${plural(s.messages, 'message', 'messages')} (${formatBytes(s.bytes)}) from ${plural(s.mailboxes, 'mailbox', 'mailboxes')} to ${path}`,
      (signal, progress, warn) =>
        exportAccount(store, accountId, path, {
          format: opts.format as ExportFormat,
          mailbox: typeof opts.mailbox === 'string' ? opts.mailbox : null,
          mboxFormat: opts.mboxFormat as MboxFormat,
          progress,
          warn,
          signal,
        }),
    ),
  );
}

/** Registers `export`. */
export function registerExportCommand(program: Command): void {
  withConfigOptions(
    program
      .command('export')
      .argument('<user>', 'account to export')
      .argument('<path>', 'a new directory (or, with --mailbox and mbox, a new file)')
      .description('export mail with flags and dates as mbox files or a Maildir++ tree'),
    STORE_FLAGS,
  )
    .addOption(new Option('--format <format>', 'output format').choices(['mbox', 'maildir']).makeOptionMandatory())
    .option('--mailbox <name>', 'export only this mailbox, as PATH itself')
    .addOption(new Option('--mbox-format <format>', 'how body lines starting with "From " are quoted').choices(['mboxrd', 'mboxo']).default('mboxrd'))
    .action(run);
}
