/**
 * `mailkeep import USER PATH`: mbox files and Maildir folders into an account
 * (src/mail/import/import-path.ts has the rules). Resumable: run it again
 * after an interruption or a failure and it stores only what is missing.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { importPath, type ImportFormat } from '../mail/import/import-path.js';
import type { MboxFormat } from '../mail/import/mbox-reader.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { formatBytes, plural, runLongOperation, summaryTail, withAccount } from './progress.js';
import { STORE_FLAGS } from './with-store.js';

async function run(user: string, path: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  await withAccount(config, user, (store, accountId) =>
    runLongOperation(
      'import',
      (s) =>
        `imported ${plural(s.messages, 'message', 'messages')} (${formatBytes(s.bytes)}) into ${plural(s.mailboxes, 'mailbox', 'mailboxes')}${summaryTail(s)}`,
      (signal, progress, warn) =>
        importPath(store, accountId, path, {
          format: opts.format as ImportFormat,
          mailbox: opts.mailbox as string,
          mboxFormat: opts.mboxFormat as MboxFormat,
          maxMessageSize: config.limits.appendLimit,
          progress,
          warn,
          signal,
        }),
    ),
  );
}

/** Registers `import`. */
export function registerImportCommand(program: Command): void {
  withConfigOptions(
    program
      .command('import')
      .argument('<user>', 'account to import into')
      .argument('<path>', 'an mbox file, a directory of mbox files, a Maildir or a Maildir++ tree')
      .description('import mail from mbox or Maildir (resumable: running it again adds only what is missing)'),
    STORE_FLAGS,
  )
    .addOption(new Option('--format <format>', 'what PATH holds').choices(['auto', 'mbox', 'maildir']).default('auto'))
    .option('--mailbox <name>', 'target of an mbox file or of the Maildir root; folders go below it', 'INBOX')
    .addOption(
      new Option(
        '--mbox-format <format>',
        'how the mbox quoted body lines starting with "From ": mboxrd (">From" lines lose one ">") or mboxo (only ">From" → "From")',
      )
        .choices(['mboxrd', 'mboxo'])
        .default('mboxrd'),
    )
    .action(run);
}
