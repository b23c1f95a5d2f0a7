/**
 * The authenticated state's script commands (RFC 5804 §2.5–§2.12):
 * HAVESPACE, PUTSCRIPT, CHECKSCRIPT, LISTSCRIPTS, SETACTIVE, GETSCRIPT,
 * DELETESCRIPT, RENAMESCRIPT, over the store's scripts (mail/sieve-scripts.ts).
 * A script with errors is refused with each error's line and column.
 */
import { checkScriptOffLoop } from '../../mail/sieve-check.js';
import { formatSieveErrors, putScript, scriptQuota, scriptText } from '../../mail/sieve-scripts.js';
import type { SieveError } from '../../sieve/index.js';
import { SieveQuotaError, sieveQuotaProblem, type SieveQuotaKind } from '../../store/shared/sieve-quota.js';
import { StoreError } from '../../store/types.js';
import { failure, type SieveCode } from '../errors.js';
import type { SieveSession } from '../session/session.js';
import { encodeString } from '../wire/response.js';
import { command, count, nameArg, numberArg, stringArg } from './spec.js';

/** The account of an authenticated session (the connection checks the state before run). */
function accountOf(session: SieveSession) {
  if (session.state.kind !== 'auth') throw new Error('not authenticated');
  return session.state.account;
}

const QUOTA_CODE: Record<SieveQuotaKind, SieveCode> = { scripts: 'QUOTA/MAXSCRIPTS', size: 'QUOTA' };

/** Store refusals as RFC 5804 §1.3 response codes. */
function storeFailure(err: unknown): never {
  if (err instanceof SieveQuotaError) throw failure(err.message, QUOTA_CODE[err.quota]);
  if (err instanceof StoreError && err.code === 'NONEXISTENT') throw failure('There is no script of that name', 'NONEXISTENT');
  if (err instanceof StoreError && err.code === 'ALREADYEXISTS') throw failure('A script of that name exists', 'ALREADYEXISTS');
  if (err instanceof StoreError && err.code === 'INUSE') throw failure('The active script cannot be deleted', 'ACTIVE');
  throw err;
}

/** A script argument as text, within the size limit (RFC 5804 §2.6: QUOTA/MAXSIZE). */
function scriptArg(session: SieveSession, bytes: Buffer): string {
  if (bytes.length > session.config.sieve.maxScriptSize) throw failure('The script is larger than the server allows', 'QUOTA/MAXSIZE');
  const text = scriptText(bytes);
  if (text === null) throw failure('The script is not UTF-8 text (RFC 5228 §2.2)');
  return text;
}

/** RFC 5804 §2.6: the errors, one `line:column: message` per line, as the NO's text. */
function scriptErrors(errors: readonly SieveError[]): never {
  throw failure(formatSieveErrors(errors).join('\r\n'));
}

/** RFC 5804 §2.5 — HAVESPACE name size: would a script of that size fit? */
export const havespace = command({
  name: 'HAVESPACE',
  states: ['auth'],
  parse(args) {
    count(args, 2, 2, 'HAVESPACE name size');
    return { name: nameArg(args[0]), size: numberArg(args[1], 'the size') };
  },
  async run(session, { name, size }) {
    const settings = session.config.sieve;
    if (size > settings.maxScriptSize) throw failure('The script is larger than the server allows', 'QUOTA/MAXSIZE');
    const problem = sieveQuotaProblem(await session.store.listSieveScripts(accountOf(session).id), name, size, scriptQuota(settings));
    if (problem) throw failure(problem === 'scripts' ? 'Too many scripts' : 'Not enough space for the scripts', QUOTA_CODE[problem]);
    session.ok('Putscript would succeed');
  },
});

/** RFC 5804 §2.6 — PUTSCRIPT name script: checked, then stored (replacing one of that name, active or not). */
export const putscript = command({
  name: 'PUTSCRIPT',
  states: ['auth'],
  literalLimit: 'script',
  parse(args) {
    count(args, 2, 2, 'PUTSCRIPT name script');
    return { name: nameArg(args[0]), script: stringArg(args[1], 'the script') };
  },
  async run(session, { name, script }) {
    const text = scriptArg(session, script);
    const errors = await putScript(session.store, session.config.sieve, accountOf(session).id, name, text).catch(storeFailure);
    if (errors.length > 0) scriptErrors(errors);
    session.ok('Script stored');
  },
});

/** RFC 5804 §2.12 — CHECKSCRIPT script: PUTSCRIPT's check without storing. */
export const checkscript = command({
  name: 'CHECKSCRIPT',
  states: ['auth'],
  literalLimit: 'script',
  parse(args) {
    count(args, 1, 1, 'CHECKSCRIPT script');
    return stringArg(args[0], 'the script');
  },
  async run(session, script) {
    const errors = await checkScriptOffLoop(scriptArg(session, script), session.config.sieve);
    if (errors.length > 0) scriptErrors(errors);
    session.ok('Script is valid');
  },
});

/** RFC 5804 §2.7 — LISTSCRIPTS: one name per line, the active one marked ACTIVE. */
export const listscripts = command({
  name: 'LISTSCRIPTS',
  states: ['auth'],
  parse: (args) => count(args, 0, 0, 'LISTSCRIPTS'),
  async run(session) {
    for (const s of await session.store.listSieveScripts(accountOf(session).id)) {
      session.write(Buffer.concat([encodeString(s.name), Buffer.from(s.active ? ' ACTIVE\r\n' : '\r\n')]));
    }
    session.ok('Listscripts completed');
  },
});

/** RFC 5804 §2.8 — SETACTIVE name; "" deactivates every script. */
export const setactive = command({
  name: 'SETACTIVE',
  states: ['auth'],
  parse(args) {
    count(args, 1, 1, 'SETACTIVE name');
    return nameArg(args[0], true);
  },
  async run(session, name) {
    await session.store.setActiveSieveScript(accountOf(session).id, name === '' ? null : name).catch(storeFailure);
    session.ok(name === '' ? 'No script is active' : 'Script activated');
  },
});

/** RFC 5804 §2.9 — GETSCRIPT name: the script as a literal, byte for byte, then OK. */
export const getscript = command({
  name: 'GETSCRIPT',
  states: ['auth'],
  parse(args) {
    count(args, 1, 1, 'GETSCRIPT name');
    return nameArg(args[0]);
  },
  async run(session, name) {
    const script = await session.store.getSieveScript(accountOf(session).id, name);
    if (!script) throw failure('There is no script of that name', 'NONEXISTENT');
    const bytes = Buffer.from(script.content, 'utf8');
    session.write(Buffer.concat([Buffer.from(`{${bytes.length}}\r\n`), bytes, Buffer.from('\r\n')]));
    session.ok('Getscript completed');
  },
});

/** RFC 5804 §2.10 — DELETESCRIPT name; the active script is refused with ACTIVE. */
export const deletescript = command({
  name: 'DELETESCRIPT',
  states: ['auth'],
  parse(args) {
    count(args, 1, 1, 'DELETESCRIPT name');
    return nameArg(args[0]);
  },
  async run(session, name) {
    await session.store.deleteSieveScript(accountOf(session).id, name).catch(storeFailure);
    session.ok('Script deleted');
  },
});

/** RFC 5804 §2.11 — RENAMESCRIPT old new; an active script stays active. */
export const renamescript = command({
  name: 'RENAMESCRIPT',
  states: ['auth'],
  parse(args) {
    count(args, 2, 2, 'RENAMESCRIPT old-name new-name');
    return { from: nameArg(args[0]), to: nameArg(args[1]) };
  },
  async run(session, { from, to }) {
    await session.store.renameSieveScript(accountOf(session).id, from, to).catch(storeFailure);
    session.ok('Script renamed');
  },
});
