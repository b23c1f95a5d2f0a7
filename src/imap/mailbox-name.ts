/**
 * Mailbox names on the wire and in the store. The store keeps UTF-8 names with
 * '/' as hierarchy separator and 'INBOX' in canonical case. IMAP4rev1 clients
 * see modified UTF-7 (RFC 3501 §5.1.3); clients that enabled IMAP4rev2 or
 * UTF8=ACCEPT see UTF-8 (RFC 9051 §5.1, RFC 6855 §3).
 */
import { bad, no } from './errors.js';
import { canonicalName, forbiddenCharacter, hasForbiddenCodePoint, MAX_NAME_DEPTH, MAX_NAME_LENGTH, SEPARATOR } from '../mail/mailbox-name.js';
import { decodeMutf7, encodeMutf7 } from '../mail/mutf7.js';
import type { StringArg } from './wire/reader.js';

/**
 * Marks the store name of an argument that is not valid modified UTF-7: a
 * control character, which validateNewName keeps out of every stored name
 * (and which PostgreSQL text can hold, unlike NUL). So such a name finds no
 * mailbox, and no LIST pattern built from it matches one.
 */
const UNDECODABLE = '\x01';

/**
 * Decodes a mailbox argument into its store name. Liberal: a rev1 client that
 * sends raw UTF-8 is understood too. Invalid UTF-8 is BAD (RFC 9051 §9: the
 * grammar asks for UTF-8); invalid modified UTF-7 is a well-formed astring
 * that names no mailbox (RFC 3501 §5.1.3), so it is answered as such by each
 * command (NO [NONEXISTENT], an empty LIST, NO [CANNOT] for CREATE), as
 * Dovecot does: see isUndecodable.
 */
export function decodeMailboxArg(arg: StringArg, utf8: boolean): string {
  return canonicalName(decodeMailboxAsSent(arg, utf8));
}

/** The name as the client wrote it, decoded but not yet canonical (so a command can tell it was normalized). */
export function decodeMailboxAsSent(arg: StringArg, utf8: boolean): string {
  const bytes = arg.bytes;
  let name: string | null;
  const has8bit = bytes.some((c) => c >= 0x80);
  if (utf8 || has8bit) {
    try {
      // ignoreBOM keeps a leading U+FEFF, so it is refused below instead of silently dropped.
      name = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw bad('Mailbox name is not valid UTF-8');
    }
  } else {
    const text = bytes.toString('latin1');
    const decoded = decodeMutf7(text);
    if (decoded === null) return UNDECODABLE + text;
    name = decoded;
  }
  // RFC 9051 §5.1 (Net-Unicode, RFC 5198 §2): such a name can be no mailbox, whichever command names it.
  if (hasForbiddenCodePoint(name)) throw no('CANNOT', 'Mailbox name holds a forbidden code point (control, noncharacter, byte order mark)');
  return name;
}

/** Whether decodeMailboxArg met invalid modified UTF-7: no mailbox has, or can be given, this name. */
export function isUndecodable(name: string): boolean {
  return name.startsWith(UNDECODABLE);
}

/** Encodes a store name for the client's mode. */
export function encodeMailboxName(name: string, utf8: boolean): string {
  return utf8 ? name : encodeMutf7(name);
}

/** "foo/" means "create foo as a future parent" (RFC 9051 §6.3.4): the name without the trailing separator. */
export function withoutParentMarker(name: string): string {
  return name.endsWith(SEPARATOR) ? name.slice(0, -1) : name;
}

/** Checks a name a client wants to create or rename to (RFC 9051 §6.3.4 and §5.1). */
export function validateNewName(name: string): string {
  // RFC 3501 §5.1.3: the server SHOULD verify a CREATE name's modified UTF-7. NO, not BAD: the
  // syntax (astring) is right; the name breaks a rule of the server (RFC 5530 CANNOT).
  if (isUndecodable(name)) throw no('CANNOT', 'Mailbox name is not valid modified UTF-7');
  const trimmed = withoutParentMarker(name);
  if (trimmed.length === 0) throw no('CANNOT', 'Mailbox name is empty');
  if ([...trimmed].length > MAX_NAME_LENGTH) throw no('LIMIT', 'Mailbox name is too long');
  const parts = trimmed.split(SEPARATOR);
  if (parts.length > MAX_NAME_DEPTH) throw no('LIMIT', 'Mailbox hierarchy is too deep');
  if (parts.some((p) => p.length === 0)) throw no('CANNOT', 'Mailbox name has an empty hierarchy level');
  const forbidden = forbiddenCharacter(trimmed);
  if (forbidden !== null) throw no('CANNOT', `Mailbox name contains ${forbidden}`);
  return canonicalName(trimmed);
}
