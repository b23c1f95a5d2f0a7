/**
 * Object identifiers (RFC 8474). EMAILIDs are allocated by the store; a
 * MAILBOXID is derived here from the mailbox's store id and UIDVALIDITY,
 * which RENAME keeps (§4) and a recreated mailbox never repeats.
 */
import type { Mailbox } from '../store/types.js';

/**
 * RFC 8474 §4 MAILBOXID: a letter prefix, then base-36 digits only (§8.1:
 * never a leading digit, never only digits, never differing only by case).
 */
export function mailboxObjectId(mb: Pick<Mailbox, 'id' | 'uidValidity'>): string {
  return `F${mb.id.toString(36)}_${mb.uidValidity.toString(36)}`;
}
