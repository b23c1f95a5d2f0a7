/** How the configured store is opened: one place for the server, the cluster primary and the CLI. */
import type { Config } from '../config/schema.js';
import type { OpenStoreOptions } from '../store/open.js';

/** The store's location, default mailboxes and limits from `config`; `onWarning` gets what an administrator should fix. */
export function configuredStore(config: Config, onWarning: (message: string) => void): OpenStoreOptions {
  return {
    dataDir: config.dataDir,
    url: config.store.url,
    defaultMailboxes: config.mailboxes.defaults,
    onWarning,
    limits: config.limits,
  };
}
