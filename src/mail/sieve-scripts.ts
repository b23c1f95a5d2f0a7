/**
 * Sieve script management shared by `mailkeep sieve` and ManageSieve
 * (RFC 5804): script-name rules, the check a script passes before it is
 * stored, the quotas from `[sieve]`, and what delivery reads — the active
 * script and the RFC 6609 `:personal` scripts it includes.
 *
 * Invariants: no script with errors is stored (RFC 5804 §2.6: PUTSCRIPT
 * checks first); a name is stored in NFC, so each caller normalises the same way.
 */
import type { Config } from '../config/schema.js';
import type { AccountId } from '../ids.js';
import type { SieveError } from '../sieve/index.js';
import type { SieveScriptQuota, SieveScriptStore, SieveScriptText } from '../store/types.js';
import { checkScriptOffLoop } from './sieve-check.js';

/** Longest script name in characters (RFC 5804 §1.6: at least 128 must be allowed). */
export const MAX_SCRIPT_NAME = 255;

/** The `[sieve]` settings. */
export type SieveSettings = Config['sieve'];

/** The quotas the store enforces, from `[sieve]`. */
export function scriptQuota(settings: SieveSettings): SieveScriptQuota {
  return { maxScripts: settings.maxScripts, maxTotalSize: settings.maxTotalSize };
}

// RFC 5804 §1.6: control characters, DELETE, C1 controls, LINE and PARAGRAPH SEPARATOR.
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** A script name in its stored form (NFC, RFC 5198 §2), or the reason it is not one (RFC 5804 §1.6). */
export function scriptName(name: string): { ok: true; name: string } | { ok: false; reason: string } {
  if (name === '') return { ok: false, reason: 'A script name cannot be empty' };
  // A lone surrogate is no Unicode character (RFC 5198 §2).
  if (FORBIDDEN.test(name) || !name.isWellFormed()) {
    return { ok: false, reason: 'A script name cannot contain control characters or line separators' };
  }
  const nfc = name.normalize('NFC');
  if ([...nfc].length > MAX_SCRIPT_NAME) return { ok: false, reason: `A script name is at most ${MAX_SCRIPT_NAME} characters long` };
  return { ok: true, name: nfc };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A script's octets as text, or null when they are not UTF-8 (RFC 5228 §2.2: scripts are UTF-8). */
export function scriptText(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Errors as `line:column: message` lines (CHECKSCRIPT, `mailkeep sieve check`). */
export function formatSieveErrors(errors: readonly SieveError[]): string[] {
  return errors.map((e) => `${e.line}:${e.column}: ${e.message}`);
}

/**
 * Checks a script and stores it under an already normalised name (optionally making it the
 * active one). Returns its errors instead of storing when it has any; store errors
 * (SieveQuotaError, NONEXISTENT) are thrown.
 */
export async function putScript(
  store: SieveScriptStore,
  settings: SieveSettings,
  accountId: AccountId,
  name: string,
  text: string,
  activate = false,
): Promise<SieveError[]> {
  const errors = await checkScriptOffLoop(text, settings);
  if (errors.length === 0) await store.putSieveScript(accountId, name, text, scriptQuota(settings), activate);
  return errors;
}

/** The script delivery runs for an account (RFC 5804 §1.4), with its text, or null when none is active. */
export function getActiveScript(store: SieveScriptStore, accountId: AccountId): Promise<SieveScriptText | null> {
  return store.getActiveSieveScript(accountId);
}

/**
 * The include resolver for SieveContext.includeScript (RFC 6609 §3.2): `:personal` names
 * one of the account's scripts; there are no `:global` scripts, so those are missing.
 */
export function includeResolver(store: SieveScriptStore, accountId: AccountId): (name: string, location: 'personal' | 'global') => Promise<string | null> {
  return async (name, location) => {
    if (location !== 'personal') return null;
    const valid = scriptName(name);
    if (!valid.ok) return null;
    return (await store.getSieveScript(accountId, valid.name))?.content ?? null;
  };
}
