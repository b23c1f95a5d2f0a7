/**
 * Canonical mailbox names as the store keeps them, whatever the protocol or
 * file format they came from: UTF-8, '/' as hierarchy separator, INBOX in
 * canonical case (RFC 9051 §5.1), bounded length and depth.
 */

/** The hierarchy separator (RFC 9051 §5.1.1). */
export const SEPARATOR = '/';
/** Bounds on names: characters and hierarchy levels. */
export const MAX_NAME_LENGTH = 512;
export const MAX_NAME_DEPTH = 32;

/** Canonicalizes the INBOX prefix: "inbox" and "Inbox/x" name INBOX (RFC 9051 §5.1). */
export function canonicalName(name: string): string {
  const first = name.split(SEPARATOR, 1)[0]!;
  return first.toUpperCase() === 'INBOX' ? `INBOX${name.slice(first.length)}` : name;
}

/** The names of all ancestors of a name, outermost first ("a/b/c" → ["a", "a/b"]). */
export function ancestors(name: string): string[] {
  const parts = name.split(SEPARATOR);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join(SEPARATOR));
  return out;
}
