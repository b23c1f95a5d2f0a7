/**
 * Canonical mailbox names as the store keeps them, whatever the protocol or
 * file format they came from: UTF-8, '/' as hierarchy separator, INBOX in
 * canonical case (RFC 9051 §5.1), bounded length and depth.
 */

import { hasForbiddenCodePoint } from '../store/shared/names.js';

export { hasForbiddenCodePoint };

/** The hierarchy separator (RFC 9051 §5.1.1). */
export const SEPARATOR = '/';
/** Bounds on names: characters and hierarchy levels. */
export const MAX_NAME_LENGTH = 512;
export const MAX_NAME_DEPTH = 32;

/**
 * The canonical form of a name: NFC (RFC 9051 §5.1, RFC 5198 §2) and the
 * INBOX prefix in canonical case: "inbox" and "Inbox/x" name INBOX. Only
 * ASCII case is ignored (see the store's canonicalName): "ınbox" is not INBOX.
 */
export function canonicalName(name: string): string {
  const nfc = name.normalize('NFC');
  const first = nfc.split(SEPARATOR, 1)[0]!;
  return /^inbox$/i.test(first) ? `INBOX${nfc.slice(first.length)}` : nfc;
}

/** Why a name a client or an import wants to create cannot be one, or null: a code point Net-Unicode forbids, or a LIST wildcard. */
export function forbiddenCharacter(name: string): string | null {
  if (hasForbiddenCodePoint(name)) return 'a forbidden code point (control, noncharacter, byte order mark or unpaired surrogate)';
  if (/[%*]/.test(name)) return 'a LIST wildcard (% or *)';
  return null;
}

/** The names of all ancestors of a name, outermost first ("a/b/c" → ["a", "a/b"]). */
export function ancestors(name: string): string[] {
  const parts = name.split(SEPARATOR);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join(SEPARATOR));
  return out;
}
