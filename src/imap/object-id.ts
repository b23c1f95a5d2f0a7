/**
 * Object identifiers (RFC 8474). EMAILIDs and MAILBOXIDs are allocated by
 * the store (random); a mailbox created before the store kept its MAILBOXID
 * still has the one derived here from its store id and UIDVALIDITY, which
 * RENAME keeps (§4) and a recreated mailbox never repeats.
 */
import type { Mailbox } from '../store/types.js';

/**
 * RFC 8474 §4 MAILBOXID: the stored one, else (older mailboxes) a letter
 * prefix, then base-36 digits only (§8.1: never a leading digit, never only
 * digits, never differing only by case).
 */
export function mailboxObjectId(mb: Pick<Mailbox, 'id' | 'uidValidity' | 'objectId'>): string {
  return mb.objectId ?? `F${mb.id.toString(36)}_${mb.uidValidity.toString(36)}`;
}
