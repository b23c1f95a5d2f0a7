/** Store access for administrative commands (`user`, `quota`, `alias`, `deliver`, `import` …): open, run, always close. */
import type { Config } from '../config/schema.js';
import type { OpenedStore } from '../store/open.js';
import type { Account } from '../store/types.js';
import { CliError } from './cli-error.js';

/** The settings that say where the store is; every store command takes them besides --config. */
export const STORE_FLAGS: readonly string[] = ['data-dir', 'store'];

/** Opens the configured store, runs `fn`, and closes the store whatever happens. */
export async function withStore<T>(config: Config, fn: (store: OpenedStore) => Promise<T>): Promise<T> {
  // Loaded on demand so `--help` and usage errors never touch the database driver.
  const { openStore } = await import('../store/open.js');
  const store = await openStore({
    dataDir: config.dataDir,
    url: config.store.url,
    defaultMailboxes: config.mailboxes.defaults,
    onWarning: (message) => process.stderr.write(`mailkeep: warning: ${message}\n`),
    limits: config.limits,
  });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The account of that name, or exit 1 with "no such user". */
export async function requireAccount(store: OpenedStore, name: string): Promise<Account> {
  const account = await store.findAccount(name);
  if (!account) throw new CliError(`no such user: ${name}`);
  return account;
}
