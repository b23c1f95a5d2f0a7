/**
 * The Sieve script quotas (RFC 5804 §2.1.3 QUOTA/MAXSCRIPTS, QUOTA/MAXSIZE),
 * decided the same way by both backends inside their write transaction and
 * by HAVESPACE before any upload.
 */
import { StoreError, type SieveScriptQuota } from '../types.js';

/** Which quota a script would exceed: the number of scripts, or the octets of all scripts together. */
export type SieveQuotaKind = 'scripts' | 'size';

/** A script that does not fit the account's quota (RFC 5804 §2.1.3). */
export class SieveQuotaError extends StoreError {
  constructor(readonly quota: SieveQuotaKind) {
    super('OVERQUOTA', quota === 'scripts' ? 'Too many scripts' : 'Not enough space for the scripts');
  }
}

/**
 * The quota that storing `size` octets under `name` would exceed, or null when it fits.
 * `scripts` are the account's current ones; replacing a script frees its old size.
 */
export function sieveQuotaProblem(
  scripts: readonly { name: string; size: number }[],
  name: string,
  size: number,
  quota: SieveScriptQuota,
): SieveQuotaKind | null {
  const existing = scripts.find((s) => s.name === name);
  if (!existing && scripts.length + 1 > quota.maxScripts) return 'scripts';
  const total = scripts.reduce((sum, s) => sum + s.size, 0) - (existing?.size ?? 0) + size;
  return total > quota.maxTotalSize ? 'size' : null;
}
