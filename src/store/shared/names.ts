/**
 * Names and identifiers both backends canonicalize, mint or check the same way.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { MAX_SOURCE_KEY, StoreError } from '../types.js';

/** The one mailbox name that is case-insensitive. */
export const INBOX = 'INBOX';

/**
 * A name as stored and looked up: in NFC (RFC 9051 §5.1, RFC 5198 §2), so a
 * composed and a decomposed "café" are one mailbox, and 'INBOX' in any ASCII
 * case is INBOX (RFC 9051 §5.1); every other name is exact. The match is
 * ASCII-only on purpose: "ınbox" (dotless ı) is not INBOX. (A non-Unicode `/i`
 * regex never folds a non-ASCII character to an ASCII one, ES2024 §22.2.2.7.3.)
 * Names stored before normalization stay as they were created (denormalizedMatch).
 */
export function canonicalName(name: string): string {
  const nfc = name.normalize('NFC');
  return /^inbox$/i.test(nfc) ? INBOX : nfc;
}

/**
 * Among stored rows, the one whose name is `canonical` in another
 * normalization form: a mailbox created before names were normalized, which
 * keeps its stored name and is still found by either form. Only names with
 * non-ASCII characters can differ so (ASCII is NFC).
 */
export function denormalizedMatch<T extends { name: string }>(rows: readonly T[], canonical: string): T | undefined {
  if (isAscii(canonical)) return undefined;
  return rows.find((r) => r.name !== canonical && !isAscii(r.name) && canonicalName(r.name) === canonical);
}

/** Whether a name is ASCII only (and so already in NFC). */
export function isAscii(name: string): boolean {
  return /^[\x00-\x7f]*$/.test(name);
}

/**
 * Code points no mailbox name may hold (RFC 5198 §2 Net-Unicode, RFC 9051
 * §5.1): controls (C0, DEL, C1), unpaired surrogates, noncharacters
 * (U+FDD0..FDEF and U+xFFFE/U+xFFFF of every plane), the byte order mark
 * U+FEFF, and the line and paragraph separators.
 */
const FORBIDDEN_IN_NAME = /[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}\u{FEFF}\u{2028}\u{2029}]/u;

/** Whether a name holds a code point no mailbox name may hold (see FORBIDDEN_IN_NAME). */
export function hasForbiddenCodePoint(name: string): boolean {
  return FORBIDDEN_IN_NAME.test(name);
}

/** Refuses a name to create or rename to that holds a forbidden code point. */
export function checkNewName(name: string): void {
  if (hasForbiddenCodePoint(name)) throw new StoreError('CANNOT', 'mailbox name holds a forbidden code point');
}

/** Random bytes per email id: 96 bits, 16 base64url characters. */
const EMAIL_ID_BYTES = 12;
/** Ids drawn per refill: one randomBytes call costs ~5 µs here, a slice of a filled pool ~0.1 µs. */
const emailIdPool = Buffer.alloc(EMAIL_ID_BYTES * 256);
let emailIdOffset = emailIdPool.length;

/** A new email id: an RFC 8474 objectid (letters, digits, '-' and '_'). */
export function newEmailId(): string {
  if (emailIdOffset === emailIdPool.length) {
    randomFillSync(emailIdPool);
    emailIdOffset = 0;
  }
  const id = emailIdPool.toString('base64url', emailIdOffset, emailIdOffset + EMAIL_ID_BYTES);
  emailIdOffset += EMAIL_ID_BYTES;
  return `M${id}`;
}

/** Random bytes per MAILBOXID: 96 bits, so ids neither count mailboxes nor can be guessed. */
const MAILBOX_ID_BYTES = 12;

/**
 * A new MAILBOXID (RFC 8474 §4): 'F' and lower-case hex. §8.1: a letter
 * first (never a digit, dash or NIL) and one case only, so no two ids differ
 * by case alone. Never contains '_', which the ids derived for older
 * mailboxes always do (imap/object-id.ts), so the two kinds cannot collide.
 */
export function newMailboxObjectId(): string {
  return `F${randomBytes(MAILBOX_ID_BYTES).toString('hex')}`;
}

/** Source keys are bounded like every other stored input; `storable` adds a backend's own limits on text. */
export function checkSourceKey(key: string, storable: (text: string) => boolean = () => true): void {
  if (key.length === 0 || key.length > MAX_SOURCE_KEY || !storable(key)) throw new StoreError('CANNOT', 'invalid import source key');
}
