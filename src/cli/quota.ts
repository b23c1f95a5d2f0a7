/**
 * `mailkeep quota set|get`: the administrator's side of RFC 9208 quotas (IMAP
 * users may read them with GETQUOTA, never set them). Storage is given and
 * shown in octets; IMAP reports it in units of 1024 octets.
 */
import type { Command } from 'commander';
import { AdminError, parseQuotaLimit } from '../auth/administration.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { STORE_FLAGS, withAdministration } from './with-store.js';

/** A limit option's value, or undefined when the option was not given. */
function limitOption(value: unknown, option: string): number | null | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return parseQuotaLimit(value, option);
  } catch (err) {
    if (err instanceof AdminError) throw new CliError(err.message, EXIT_USAGE);
    throw err;
  }
}

const describe = (used: number, limit: number | null, unit: string): string => `${used}${unit} used, ${limit === null ? 'unlimited' : `limit ${limit}${unit}`}`;

async function set(name: string, opts: Record<string, unknown>): Promise<void> {
  const storage = limitOption(opts.storage, '--storage');
  const messages = limitOption(opts.messages, '--messages');
  if (storage === undefined && messages === undefined) throw new CliError('give --storage and/or --messages', EXIT_USAGE);
  const limits = await withAdministration(configFromOptions(opts), (admin) => admin.setQuota(name, { storage, messages }));
  const show = (n: number | null, unit: string): string => (n === null ? 'unlimited' : `${n}${unit}`);
  process.stdout.write(`quota of ${name}: storage ${show(limits.storage, ' bytes')}, messages ${show(limits.messages, '')}\n`);
}

async function get(name: string, opts: Record<string, unknown>): Promise<void> {
  const q = await withAdministration(configFromOptions(opts), async (admin, store) => store.getQuotaUsage((await admin.account(name)).id));
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
