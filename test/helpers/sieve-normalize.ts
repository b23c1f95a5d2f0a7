/** mailkeep's Sieve results in the normalized form the differential test compares with Pigeonhole's. */
import type { SieveRunResult } from '../../src/sieve/index.js';
import { normalizeFlagList } from './sieve-pigeonhole.js';

/** Sorted action strings: "store FOLDER +flags …", "redirect ADDR", "reject REASON", "discard", "vacation respond|skip seconds=N", "track-duplicate". */
export function normalizeActions(r: SieveRunResult): string[] {
  if (r.errors !== undefined) return ['runtime-error', 'store INBOX'];
  const flags = (f: readonly string[]): string => (f.length === 0 ? '' : ` +flags ${normalizeFlagList(f)}`);
  return r.actions
    .map((a) => {
      switch (a.type) {
        case 'keep':
          return `store INBOX${flags(a.flags)}`;
        case 'fileinto':
          return `store ${a.mailbox}${a.specialUse === undefined ? '' : ` specialuse=${a.specialUse}`}${flags(a.flags)}`;
        case 'redirect':
          return `redirect ${a.address}`;
        case 'reject':
          return `reject ${a.reason}`;
        case 'discard':
          return 'discard';
        case 'vacation':
          return `vacation ${a.respond ? 'respond' : 'skip'} seconds=${a.seconds}`;
        case 'track-duplicate':
          return 'track-duplicate';
      }
    })
    .sort();
}
