/**
 * Names and identifiers both backends canonicalize, mint or check the same way.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { MAX_SOURCE_KEY, StoreError } from '../types.js';

/** The one mailbox name that is case-insensitive. */
export const INBOX = 'INBOX';

/** 'INBOX' in any case is INBOX (RFC 9051 §5.1); every other name is exact. ASCII-only match on purpose. */
export function canonicalName(name: string): string {
  return /^inbox$/i.test(name) ? INBOX : name;
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
