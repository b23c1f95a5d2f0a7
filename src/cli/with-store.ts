/** Store access for administrative commands (`user`, `quota`, `alias`, `admin`, `deliver`, `import` …): open, run, always close. */
import { userInfo } from 'node:os';
import { type AdminActor, AdminError, Administration } from '../auth/administration.js';
import { passwordHashing } from '../auth/password.js';
import type { Config } from '../config/schema.js';
import type { OpenedStore } from '../store/open.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './cli-error.js';
import { configuredStore } from '../server/store-options.js';

/** The settings that say where the store is; every store command takes them besides --config. */
export const STORE_FLAGS: readonly string[] = ['data-dir', 'store'];

/** Opens the configured store, runs `fn`, and closes the store whatever happens. */
export async function withStore<T>(config: Config, fn: (store: OpenedStore) => Promise<T>): Promise<T> {
  // Loaded on demand so `--help` and usage errors never touch the database driver.
  const { openStore } = await import('../store/open.js');
  const store = await openStore(configuredStore(config, (message) => process.stderr.write(`mailkeep: warning: ${message}\n`)));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The actor the command line's changes are audited as: the operating-system user, from this machine. */
function cliActor(): AdminActor {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = String(process.getuid?.() ?? 'unknown');
  }
  return { actor: `cli:${user}`, address: 'local' };
}

/** Runs `fn` with administrative operations on the configured store; their refusals become CLI errors (invalid: a usage error). */
export async function withAdministration<T>(config: Config, fn: (admin: Administration, store: OpenedStore) => Promise<T>): Promise<T> {
  return withStore(config, async (store) => {
    try {
      return await fn(new Administration(store, cliActor(), passwordHashing(config)), store);
    } catch (err) {
      if (err instanceof AdminError) throw new CliError(err.message, err.code === 'invalid' ? EXIT_USAGE : EXIT_FAILURE);
      throw err;
    }
  });
}
