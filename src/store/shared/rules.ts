/**
 * The rules both backends apply around their SQL, written once: RENAME's
 * name plan, quota arithmetic, STORE's new flags, which imported messages
 * are new, and the UIDVALIDITY an import may adopt. Pure: no I/O, no
 * transaction.
 */
import { uid as toUid, type Uid } from '../../ids.js';
import { StoreError } from '../types.js';
import type { FlagOp, ImportedMessage, QuotaLimits, StoreLimits } from '../types.js';
import { applyFlagOp, keywordsFromText, keywordsToText, type FlagSet } from './flags.js';
import type { FlagRow } from './rows.js';

/** Largest UID and UIDVALIDITY (RFC 9051 §2.3.1.1: 32-bit, non-zero). */
export const MAX_UID = 0xffffffff;

/** RENAME of a mailbox and its inferiors (RFC 9051 §6.3.6), as names. */
export interface RenamePlan {
  /** Inferiors' names lie strictly between these (`source/` and `source0`; '0' follows '/'). */
  readonly above: string;
  readonly below: string;
  /** The new name of the source or of one of its inferiors. */
  renamed(name: string): string;
}

/**
 * Plans renaming `source` (canonical) to `target`. Called once the source is
 * known to exist and the target not to: CANNOT for a target under the source.
 */
export function planRename(source: string, target: string): RenamePlan {
  if (target.startsWith(`${source}/`)) throw new StoreError('CANNOT', 'cannot rename a mailbox under itself');
  return { above: `${source}/`, below: `${source}0`, renamed: (name) => target + name.slice(source.length) };
}

/**
 * RFC 9208 §4.3.1: a change that would put the account over a limit fails
 * with OVERQUOTA. A change that does not grow a resource never fails on it,
 * so a REPLACE by a smaller message works even over a lowered limit.
 */
export function checkQuota(limits: QuotaLimits, used: { storage: number; messages: number }, addMessages: number, addBytes: number): void {
  if (addMessages > 0 && limits.messages !== null && used.messages + addMessages > limits.messages) {
    throw new StoreError('OVERQUOTA', 'message count quota exceeded');
  }
  if (addBytes > 0 && limits.storage !== null && used.storage + addBytes > limits.storage) {
    throw new StoreError('OVERQUOTA', 'storage quota exceeded');
  }
}

/**
 * RFC 5530 LIMIT: one more mailbox would put the account over its
 * configured count (`existing` mailboxes now; 0 = unlimited).
 */
export function checkMailboxCount(limits: StoreLimits, existing: number): void {
  const max = limits.maxMailboxesPerAccount;
  if (max > 0 && existing + 1 > max) throw new StoreError('LIMIT', `too many mailboxes (limit ${max})`);
}

/** RFC 5530 LIMIT: `adding` messages would put a mailbox holding `existing` over its configured count. */
export function checkMessageCount(limits: StoreLimits, existing: number, adding: number): void {
  const max = limits.maxMessagesPerMailbox;
  if (max > 0 && adding > 0 && existing + adding > max) throw new StoreError('LIMIT', `mailbox is full (limit ${max} messages)`);
}

/**
 * The keyword keys (lower-cased: RFC 9051 §2.3.2, flag names are
 * case-insensitive) among stored keyword texts, each once: what a write
 * may add to a mailbox's defined keywords.
 */
export function keywordKeys(texts: Iterable<string>): string[] {
  const keys = new Set<string>();
  for (const text of texts) for (const k of keywordsFromText(text)) keys.add(k.toLowerCase());
  return [...keys];
}

/**
 * RFC 9051 §7.1: once a mailbox defines its limit of keywords, PERMANENTFLAGS
 * drops \* and a write that would define one more fails with LIMIT.
 * `defined` is how many the mailbox defines now, `adding` how many new ones
 * the write brings.
 */
export function keywordRoomLeft(limits: StoreLimits, defined: number, adding: number): boolean {
  const max = limits.maxKeywordsPerMailbox;
  return max === 0 || defined + adding <= max;
}

/** The LIMIT error of a write that would define more keywords than a mailbox may hold. */
export function tooManyKeywords(limits: StoreLimits): StoreError {
  return new StoreError('LIMIT', `too many keywords in this mailbox (limit ${limits.maxKeywordsPerMailbox})`);
}

/**
 * STORE (RFC 9051 §6.4.6) over the rows it names: the rows whose flags
 * change as they are (`before`) and as they become, stamped with `modseq`
 * (`after`, same order), and (RFC 7162 §3.2 UNCHANGEDSINCE) the UIDs of rows
 * modified after `unchangedSince`, which are left alone.
 */
export function planFlagChange(
  rows: readonly FlagRow[],
  op: FlagOp,
  change: FlagSet,
  modseq: number,
  unchangedSince?: number,
): { before: FlagRow[]; after: FlagRow[]; conflicts: Uid[] } {
  const before: FlagRow[] = [];
  const after: FlagRow[] = [];
  const conflicts: Uid[] = [];
  for (const row of rows) {
    if (unchangedSince !== undefined && row.modseq > unchangedSince) {
      conflicts.push(toUid(row.uid));
      continue;
    }
    const updated = applyFlagOp({ system: row.system_flags, keywords: keywordsFromText(row.keywords) }, op, change);
    if (!updated) continue;
    before.push(row);
    after.push({ uid: row.uid, modseq, system_flags: updated.system, keywords: keywordsToText(updated.keywords), size: row.size });
  }
  return { before, after, conflicts };
}

/** The indexes of the messages to import: the first of each source key not recorded yet; the others are skipped. */
export function freshImports(messages: readonly ImportedMessage[], recorded: (sourceKey: string) => boolean): number[] {
  const keys = new Set<string>();
  return messages.flatMap((m, i) => {
    if (keys.has(m.sourceKey) || recorded(m.sourceKey)) return [];
    keys.add(m.sourceKey);
    return [i];
  });
}

/** A UIDVALIDITY a mailbox may adopt from an import's source (RFC 9051 §2.3.1.1: a non-zero 32-bit number). */
export function checkUidValidity(uidValidity: number): void {
  if (!Number.isInteger(uidValidity) || uidValidity < 1 || uidValidity > MAX_UID) throw new StoreError('CANNOT', 'invalid UIDVALIDITY');
}
