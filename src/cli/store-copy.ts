/**
 * `mailkeep store copy --from <store> --to <store>`: moves a whole
 * installation between store backends (typically the embedded SQLite store
 * to PostgreSQL) keeping UIDVALIDITY, UIDs, modseqs and passwords, so
 * clients resynchronise nothing (store/copy/copy-store.ts has the rules).
 *
 * A store is `sqlite:<data-dir>` (or a bare path: the directory `serve
 * --data-dir` uses) or a `postgres://` URL. Stop every server using the
 * source first: the copy reads it while nothing changes, and its final
 * verification fails if something did.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { emptySummary } from '../mail/import/types.js';
import type { CopySummary } from '../store/copy/copy-store.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { EXIT_INTERRUPTED, formatBytes, plural, runLongOperation } from './progress.js';

/** Where a store is, as openStore takes it, and how to name it in messages (never with a password). */
export interface StoreLocation {
  dataDir: string;
  url: string | null;
  label: string;
}

/** Parses `sqlite:<dir>`, a bare directory path, or a `postgres://` / `postgresql://` URL. */
export function parseStoreLocation(text: string, flag: string): StoreLocation {
  if (/^postgres(ql)?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new CliError(`${flag}: not a valid PostgreSQL URL`, EXIT_USAGE);
    }
    if (url.password) url.password = '***';
    return { dataDir: '', url: text, label: url.toString() };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text))
    throw new CliError(`${flag}: unsupported store ${text.split(':')[0]}: (expected sqlite:<dir> or postgres://…)`, EXIT_USAGE);
  const dir = text.startsWith('sqlite:') ? text.slice('sqlite:'.length) : text;
  if (dir === '') throw new CliError(`${flag}: missing data directory`, EXIT_USAGE);
  const dataDir = resolve(dir);
  return { dataDir, url: null, label: `sqlite:${dataDir}` };
}

function describe(s: CopySummary, from: StoreLocation, to: StoreLocation): string {
  const replaced = s.replaced > 0 ? `deleted ${plural(s.replaced, 'account', 'accounts')} from the target first; ` : '';
  return (
    `${replaced}copied ${plural(s.accounts, 'account', 'accounts')}, ${plural(s.mailboxes, 'mailbox', 'mailboxes')}, ` +
    `${plural(s.messages, 'message', 'messages')} (${formatBytes(s.bytes)} in ${plural(s.blobs, 'blob', 'blobs')}), ` +
    `${plural(s.tombstones, 'expunge tombstone', 'expunge tombstones')}, ${plural(s.aliases, 'alias', 'aliases')} and ` +
    `${plural(s.metadata, 'metadata entry', 'metadata entries')} from ${from.label} to ${to.label}\n` +
    'verified: every mailbox has the same UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and message counts in both stores'
  );
}

async function run(opts: { from: string; to: string; replace?: boolean }): Promise<void> {
  const from = parseStoreLocation(opts.from, '--from');
  const to = parseStoreLocation(opts.to, '--to');
  if (from.label === to.label) throw new CliError('--from and --to name the same store', EXIT_USAGE);
  // Opening a directory without a database would create an empty store and copy nothing.
  if (from.url === null && !existsSync(join(from.dataDir, 'mailkeep.sqlite3'))) {
    throw new CliError(`--from: no mailkeep store in ${from.dataDir} (mailkeep.sqlite3 is missing)`);
  }
  // Loaded on demand so `--help` and usage errors never touch a database driver.
  const { openStore } = await import('../store/open.js');
  const { copyStore, StoreCopyError } = await import('../store/copy/copy-store.js');
  const source = await openStore({ dataDir: from.dataDir, url: from.url });
  try {
    const target = await openStore({ dataDir: to.dataDir, url: to.url });
    try {
      let summary: CopySummary | undefined;
      await runLongOperation(
        'copy',
        () => describe(summary!, from, to),
        async (signal, progress) => {
          try {
            summary = await copyStore(source, target, { replace: opts.replace ?? false, progress, signal });
          } catch (err) {
            if (err instanceof StoreCopyError) throw new CliError(err.message);
            throw err;
          }
          if (summary.interrupted) {
            throw new CliError('interrupted: the target holds part of the installation; run the same command with --replace to start over', EXIT_INTERRUPTED);
          }
          return { ...emptySummary(), mailboxes: summary.mailboxes, messages: summary.messages, bytes: summary.bytes };
        },
      );
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** Registers `store` and its subcommand `copy`. */
export function registerStoreCommands(program: Command): void {
  const store = program.command('store').description('operations on a whole mail store');
  store
    .command('copy')
    .description(
      'copy an installation to another store (e.g. SQLite to PostgreSQL) keeping UIDVALIDITY, UIDs, modseqs and passwords; ' +
        'stop every server using the source first',
    )
    .requiredOption('--from <store>', 'source: sqlite:<data-dir> (or a bare path) or postgres://user@host/db')
    .requiredOption('--to <store>', 'target, same forms; must hold no account unless --replace')
    .option('--replace', "delete the target's accounts and all their mail first (e.g. after an interrupted copy)")
    .action(run);
}
