/**
 * `mailkeep backup <dir>` and `mailkeep restore <dir> --data-dir <dir>`:
 * online backups of the embedded SQLite store (store/backup/ has the rules),
 * with a progress bar on a terminal. PostgreSQL installations use the
 * database's own tools (pg_dump, base backups with WAL archiving) or
 * `mailkeep store copy`; the commands say so instead of doing half a job.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { CliError } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { formatBytes, plural, Progress } from './progress.js';
import { STORE_FLAGS } from './with-store.js';

const POSTGRES_HINT =
  'this configuration uses PostgreSQL (store.url): back it up with pg_dump, or pg_basebackup with WAL archiving for ' +
  'point-in-time recovery, or copy it with `mailkeep store copy --from postgres://… --to sqlite:<dir>` (see the README, "Backups")';

function requireSqlite(config: Config): void {
  if (config.store.url) throw new CliError(POSTGRES_HINT);
}

/** Turns a BackupError into a one-line CLI error (exit 1). */
async function reported<T>(fn: () => Promise<T>): Promise<T> {
  const { BackupError } = await import('../store/backup/manifest.js');
  try {
    return await fn();
  } catch (err) {
    if (err instanceof BackupError) throw new CliError(err.message);
    throw err;
  }
}

async function backup(dir: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  requireSqlite(config);
  // Loaded on demand so `--help` and usage errors never touch the database driver.
  const { backupSqlite } = await import('../store/backup/sqlite-backup.js');
  const target = resolve(dir);
  const progress = new Progress('backup', process.stderr);
  const manifest = await reported(() => backupSqlite({ dataDir: resolve(config.dataDir), target, progress })).finally(() => progress.finish());
  process.stdout.write(
    `backed up ${resolve(config.dataDir)} into ${target}: the database (${formatBytes(manifest.database.size)}, snapshot of ${manifest.finishedAt}) ` +
      `and ${plural(manifest.blobs.count, 'message file', 'message files')} (${formatBytes(manifest.blobs.bytes)}), all verified by SHA-256\n`,
  );
}

async function restore(dir: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  requireSqlite(config);
  const { restoreSqlite } = await import('../store/backup/restore.js');
  const dataDir = resolve(config.dataDir);
  const progress = new Progress('restore', process.stderr);
  const manifest = await reported(() => restoreSqlite({ from: resolve(dir), dataDir, progress })).finally(() => progress.finish());
  process.stdout.write(
    `restored the backup of ${manifest.finishedAt} into ${dataDir}: the database and ` +
      `${plural(manifest.blobs.count, 'message file', 'message files')} (${formatBytes(manifest.blobs.bytes)}), checksums verified, ` +
      'every message file the database references present\n',
  );
}

/** Registers `backup` and `restore`. */
export function registerBackupCommands(program: Command): void {
  withConfigOptions(
    program
      .command('backup')
      .argument('<dir>', 'new or empty directory for the backup')
      .description('take a consistent backup of the SQLite store while the server runs (database snapshot plus message files, with checksums)'),
    STORE_FLAGS,
  ).action(backup);
  withConfigOptions(
    program
      .command('restore')
      .argument('<dir>', 'a directory written by `mailkeep backup`')
      .description('restore a backup into a new or empty data directory (--data-dir), verifying every checksum'),
    STORE_FLAGS,
  ).action(restore);
}
