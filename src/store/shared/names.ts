/**
 * Names and identifiers both backends canonicalize, mint or check the same way.
 */
import { randomBytes } from 'node:crypto';
import { MAX_SOURCE_KEY, StoreError } from '../types.js';

/** The one mailbox name that is case-insensitive. */
export const INBOX = 'INBOX';

/** 'INBOX' in any case is INBOX (RFC 9051 §5.1); every other name is exact. ASCII-only match on purpose. */
export function canonicalName(name: string): string {
  return /^inbox$/i.test(name) ? INBOX : name;
}

/** A new email id: an RFC 8474 objectid (letters, digits, '-' and '_'). */
export function newEmailId(): string {
  return `M${randomBytes(12).toString('base64url')}`;
}

/** Source keys are bounded like every other stored input; `storable` adds a backend's own limits on text. */
export function checkSourceKey(key: string, storable: (text: string) => boolean = () => true): void {
  if (key.length === 0 || key.length > MAX_SOURCE_KEY || !storable(key)) throw new StoreError('CANNOT', 'invalid import source key');
}
