/**
 * `mailkeep alias add|del|list`: addresses that deliver into an account
 * (LMTP and `mailkeep deliver`; see mail/deliver.ts for the lookup order).
 * An alias names one account; lists that fan out belong to the MTA.
 */
import type { Command } from 'commander';
import { StoreError } from '../store/types.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { requireAccount, STORE_FLAGS, withStore } from './with-store.js';

/** Settings the alias commands honour besides --config. */
/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets. */
const MAX_ADDRESS_OCTETS = 254;

/** An address as an alias key: `local@domain`, or a bare local part valid in every `domains` domain. */
function checkAddress(address: string): void {
  if (address === '' || Buffer.byteLength(address) > MAX_ADDRESS_OCTETS || /[\s\p{C}<>]/u.test(address) || address.endsWith('@')) {
    throw new CliError(`invalid address: ${JSON.stringify(address)}`, EXIT_USAGE);
  }
}

async function add(address: string, user: string, opts: Record<string, unknown>): Promise<void> {
  checkAddress(address);
  const config = configFromOptions(opts);
  await withStore(config, async (store) => {
    const account = await requireAccount(store, user);
    try {
      await store.addAlias(address, account.id);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'ALREADYEXISTS') throw new CliError(`alias already exists: ${address}`);
      throw err;
    }
  });
  process.stdout.write(`${address} now delivers to ${user}\n`);
}

async function del(address: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  await withStore(config, async (store) => {
    try {
      await store.deleteAlias(address);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NONEXISTENT') throw new CliError(`no such alias: ${address}`);
      throw err;
    }
  });
  process.stdout.write(`deleted alias ${address}\n`);
}

async function list(opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const lines = await withStore(config, async (store) => {
    const names = new Map((await store.listAccounts()).map((a) => [a.id, a.name]));
    return (await store.listAliases()).map((a) => `${a.address} ${names.get(a.accountId) ?? '?'}\n`);
  });
  process.stdout.write(lines.join(''));
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
