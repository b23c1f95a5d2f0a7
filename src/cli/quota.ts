/**
 * `mailkeep quota set|get`: the administrator's side of RFC 9208 quotas (IMAP
 * users may read them with GETQUOTA, never set them). Storage is given and
 * shown in octets; IMAP reports it in units of 1024 octets.
 */
import type { Command } from 'commander';
import type { QuotaLimits } from '../store/types.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { requireAccount, STORE_FLAGS, withStore } from './with-store.js';

/** Settings the quota commands honour besides --config. */

/** A limit argument: a non-negative integer, or "none" for unlimited. */
function parseLimit(value: string, option: string): number | null {
  if (value.toLowerCase() === 'none') return null;
  const n = /^[0-9]{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new CliError(`${option} takes a whole number or "none", not ${JSON.stringify(value)}`, EXIT_USAGE);
  return n;
}

const describe = (used: number, limit: number | null, unit: string): string => `${used}${unit} used, ${limit === null ? 'unlimited' : `limit ${limit}${unit}`}`;

async function set(name: string, opts: Record<string, unknown>): Promise<void> {
  const storage = typeof opts.storage === 'string' ? parseLimit(opts.storage, '--storage') : undefined;
  const messages = typeof opts.messages === 'string' ? parseLimit(opts.messages, '--messages') : undefined;
  if (storage === undefined && messages === undefined) throw new CliError('give --storage and/or --messages', EXIT_USAGE);
  const config = configFromOptions(opts);
  const limits = await withStore(config, async (store) => {
    const account = await requireAccount(store, name);
    // A limit not given keeps its current value.
    const next: QuotaLimits = {
      storage: storage === undefined ? account.quotaStorage : storage,
      messages: messages === undefined ? account.quotaMessages : messages,
    };
    await store.setQuota(account.id, next);
    return next;
  });
  const show = (n: number | null, unit: string): string => (n === null ? 'unlimited' : `${n}${unit}`);
  process.stdout.write(`quota of ${name}: storage ${show(limits.storage, ' bytes')}, messages ${show(limits.messages, '')}\n`);
}

async function get(name: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const q = await withStore(config, async (store) => store.getQuotaUsage((await requireAccount(store, name)).id));
  process.stdout.write(`storage: ${describe(q.usedStorage, q.storage, ' bytes')}\nmessages: ${describe(q.usedMessages, q.messages, '')}\n`);
}

/** Registers `quota` and its subcommands. */
export function registerQuotaCommands(program: Command): void {
  const quota = program.command('quota').description('show and set per-account quotas (RFC 9208)');
  withConfigOptions(quota.command('set').argument('<user>').description("change an account's limits; a limit not given is kept"), STORE_FLAGS)
    .option('--storage <bytes>', 'storage limit in octets, or "none"')
    .option('--messages <n>', 'message count limit, or "none"')
    .action(set);
  withConfigOptions(quota.command('get').argument('<user>').description("show an account's usage and limits"), STORE_FLAGS).action(get);
}
