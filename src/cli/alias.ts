/**
 * `mailkeep alias add|del|list`: addresses that deliver into an account
 * (LMTP and `mailkeep deliver`; see mail/deliver.ts for the lookup order).
 * An alias names one account; lists that fan out belong to the MTA.
 */
import type { Command } from 'commander';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { STORE_FLAGS, withAdministration } from './with-store.js';

async function add(address: string, user: string, opts: Record<string, unknown>): Promise<void> {
  await withAdministration(configFromOptions(opts), (admin) => admin.addAlias(address, user));
  process.stdout.write(`${address} now delivers to ${user}\n`);
}

async function del(address: string, opts: Record<string, unknown>): Promise<void> {
  await withAdministration(configFromOptions(opts), (admin) => admin.deleteAlias(address));
  process.stdout.write(`deleted alias ${address}\n`);
}

async function list(opts: Record<string, unknown>): Promise<void> {
  const aliases = await withAdministration(configFromOptions(opts), (admin) => admin.aliases());
  process.stdout.write(aliases.map((a) => `${a.address} ${a.user}\n`).join(''));
}

/** Registers `alias` and its subcommands. */
export function registerAliasCommands(program: Command): void {
  const alias = program.command('alias').description('manage delivery addresses (aliases) of accounts');
  withConfigOptions(alias.command('add').argument('<address>').argument('<user>').description('deliver mail for an address to a user'), STORE_FLAGS).action(
    add,
  );
  withConfigOptions(alias.command('del').argument('<address>').description('remove an alias'), STORE_FLAGS).action(del);
  withConfigOptions(alias.command('list').description('list aliases as "address user" lines'), STORE_FLAGS).action(list);
}
