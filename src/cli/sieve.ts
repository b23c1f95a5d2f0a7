/**
 * `mailkeep sieve put|get|list|activate|deactivate|delete|check`: an account's
 * Sieve scripts in the store, the same ones ManageSieve (RFC 5804) serves.
 * A script with errors is never stored; each error is printed as
 * `line:column: message`. Names follow RFC 5804 §1.6 (mail/sieve-scripts.ts).
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { checkScriptOffLoop } from '../mail/sieve-check.js';
import { formatSieveErrors, putScript, scriptName, scriptText, type SieveSettings } from '../mail/sieve-scripts.js';
import { SieveQuotaError } from '../store/shared/sieve-quota.js';
import { StoreError } from '../store/types.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { parseSieve } from '../sieve/index.js';
import { sendsMail } from '../mail/sieve-sends-mail.js';
import { registerSieveTest } from './sieve-test.js';
import { STORE_FLAGS, withAdministration } from './with-store.js';

/** A name as stored, or exit 2 with the RFC 5804 §1.6 reason. */
function validName(name: string): string {
  const valid = scriptName(name);
  if (!valid.ok) throw new CliError(`invalid script name ${JSON.stringify(name)}: ${valid.reason}`, EXIT_USAGE);
  return valid.name;
}

/** Reads a script (a file, or stdin), refusing more than the configured script size before buffering it. */
async function readScript(input: Readable, settings: SieveSettings): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > settings.maxScriptSize) {
      input.destroy();
      throw new CliError(`the script is larger than [sieve] max-script-size (${settings.maxScriptSize} bytes)`);
    }
    chunks.push(chunk);
  }
  const text = scriptText(Buffer.concat(chunks));
  if (text === null) throw new CliError('the script is not UTF-8 text (RFC 5228 §2.2)');
  return text;
}

/** A store refusal as the CLI says it. */
function storeFailure(err: unknown, name: string): never {
  if (err instanceof SieveQuotaError) {
    throw new CliError(err.quota === 'scripts' ? 'too many scripts ([sieve] max-scripts)' : 'not enough room for the scripts ([sieve] max-total-size)');
  }
  if (err instanceof StoreError && err.code === 'NONEXISTENT') throw new CliError(`no such script: ${name}`);
  if (err instanceof StoreError && err.code === 'INUSE') throw new CliError(`${name} is the active script; deactivate it or activate another first`);
  if (err instanceof StoreError && err.code === 'ALREADYEXISTS') throw new CliError(`a script named ${name} exists`);
  throw err;
}

async function put(user: string, rawName: string, file: string | undefined, opts: Record<string, unknown>): Promise<void> {
  const name = validName(rawName);
  const config = configFromOptions(opts);
  const text = await readScript(file === undefined ? process.stdin : createReadStream(file), config.sieve);
  const activate = opts.activate === true;
  await withAdministration(config, async (admin, store) => {
    const account = await admin.account(user);
    const errors = await putScript(store, config.sieve, account.id, name, text, activate).catch((err: unknown) => storeFailure(err, name));
    if (errors.length > 0) throw new CliError(`${name} not stored, it has errors:\n${formatSieveErrors(errors).join('\n')}`);
  });
  process.stdout.write(`stored ${name}${activate ? ' (active)' : ''}\n`);
}

async function get(user: string, rawName: string, opts: Record<string, unknown>): Promise<void> {
  const name = validName(rawName);
  const config = configFromOptions(opts);
  const script = await withAdministration(config, async (admin, store) => store.getSieveScript((await admin.account(user)).id, name));
  if (!script) throw new CliError(`no such script: ${name}`);
  // The text as stored, byte for byte.
  process.stdout.write(script.content);
}

async function list(user: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const scripts = await withAdministration(config, async (admin, store) => store.listSieveScripts((await admin.account(user)).id));
  process.stdout.write(scripts.map((s) => `${s.name}\t${s.size}${s.active ? '\tactive' : ''}\n`).join(''));
}

async function activate(user: string, rawName: string | null, opts: Record<string, unknown>): Promise<void> {
  const name = rawName === null ? null : validName(rawName);
  const config = configFromOptions(opts);
  await withAdministration(config, async (admin, store) => {
    const account = await admin.account(user);
    await store.setActiveSieveScript(account.id, name).catch((err: unknown) => storeFailure(err, name ?? ''));
  });
  process.stdout.write(name === null ? `no script is active for ${user}\n` : `${name} is active\n`);
}

async function remove(user: string, rawName: string, opts: Record<string, unknown>): Promise<void> {
  const name = validName(rawName);
  const config = configFromOptions(opts);
  await withAdministration(config, async (admin, store) => {
    const account = await admin.account(user);
    await store.deleteSieveScript(account.id, name).catch((err: unknown) => storeFailure(err, name));
  });
  process.stdout.write(`deleted ${name}\n`);
}

async function check(user: string, rawName: string, opts: Record<string, unknown>): Promise<void> {
  const name = validName(rawName);
  const config = configFromOptions(opts);
  const script = await withAdministration(config, async (admin, store) => store.getSieveScript((await admin.account(user)).id, name));
  if (!script) throw new CliError(`no script: ${name}`);
  const errors = await checkScriptOffLoop(script.content, config.sieve);
  if (errors.length > 0) throw new CliError(formatSieveErrors(errors).join('\n'));
  const parsed = parseSieve(script.content, { maxScriptBytes: config.sieve.maxScriptSize });
  if (config.relay.host === null && parsed.ok && sendsMail(parsed.script)) {
    process.stderr.write('warning: the script redirects or replies, but no [relay] host is configured: that mail will not be sent\n');
  }
  process.stdout.write('ok\n');
}

/** Registers `sieve` and its subcommands. */
export function registerSieveCommands(program: Command): void {
  const sieve = program.command('sieve').description("manage users' Sieve filter scripts (also reachable over ManageSieve)");
  const sub = (name: string, description: string): Command => withConfigOptions(sieve.command(name).description(description), STORE_FLAGS);
  sub('put', 'store a script from FILE or standard input; refused when it has errors')
    .argument('<user>')
    .argument('<name>')
    .argument('[file]')
    .option('--activate', 'also make it the active script')
    .action(put);
  sub('get', 'print a script').argument('<user>').argument('<name>').action(get);
  sub('list', 'list scripts as "name<TAB>size" lines, the active one marked "active"').argument('<user>').action(list);
  sub('activate', 'make a script the one run at delivery')
    .argument('<user>')
    .argument('<name>')
    .action((user: string, name: string, opts: Record<string, unknown>) => activate(user, name, opts));
  sub('deactivate', 'run no script at delivery')
    .argument('<user>')
    .action((user: string, opts: Record<string, unknown>) => activate(user, null, opts));
  sub('delete', 'delete a script (not the active one)').argument('<user>').argument('<name>').action(remove);
  sub('check', 'print a stored script\'s errors as "line:column: message", or "ok"').argument('<user>').argument('<name>').action(check);
  registerSieveTest(sub);
}
