/**
 * Untagged responses about mailboxes that commands send and the NOTIFY
 * notifier sends too (RFC 5465 §5.1-§5.4): the mailbox name in the session's
 * naming mode, LIST (RFC 9051 §7.3.1) and STATUS (RFC 9051 §7.3.4).
 */
import { SEPARATOR } from '../mail/mailbox-name.js';
import { encodeAString, encodeString } from '../syntax/imap-string.js';
import { encodeMailboxName } from './mailbox-name.js';
import type { ImapSession } from './session/session.js';

/** The wire form of a mailbox name for this session. */
export function mailboxWire(session: ImapSession, name: string): Buffer {
  return encodeAString(encodeMailboxName(name, session.encodeMode.utf8), session.encodeMode);
}

/** Writes `* LIST (attrs) "/" name [extended data]` (also NOTIFY's LIST responses, RFC 5465 §5.4). */
export function listLine(session: ImapSession, verb: 'LIST' | 'LSUB', attrs: string[], name: string, extended: string | Buffer = ''): void {
  session.untagged(
    Buffer.concat([Buffer.from(`${verb} (${attrs.join(' ')}) `), encodeString(SEPARATOR), Buffer.from(' '), mailboxWire(session, name), Buffer.from(extended)]),
  );
}

/** The OLDNAME extended data item (RFC 9051 §6.3.9.7, RFC 5465 §5.4): ` ("OLDNAME" (name))`. */
export function oldNameItem(session: ImapSession, oldName: string): Buffer {
  return Buffer.concat([Buffer.from(' ("OLDNAME" ('), mailboxWire(session, oldName), Buffer.from('))')]);
}

/**
 * Tells a client that the name it sent was stored in another form (NFC,
 * RFC 9051 §5.1): `* LIST (attrs) "/" stored ("OLDNAME" (sent))` — CREATE,
 * RENAME and DELETE SHOULD say so (§6.3.4-§6.3.6), SELECT and EXAMINE MUST
 * (§6.3.2). Nothing when the forms are the same.
 */
export function announceNormalized(session: ImapSession, sent: string, stored: string, attrs: string[] = []): void {
  const oldName = oldNameIfNormalized(session, sent);
  if (oldName !== '') listLine(session, 'LIST', attrs, stored, oldName);
}

/** The OLDNAME item for a name the client sent in another form than NFC (RFC 9051 §5.1), else ''. */
export function oldNameIfNormalized(session: ImapSession, sent: string): Buffer | '' {
  return sent.normalize('NFC') === sent ? '' : oldNameItem(session, sent);
}

/** `STATUS name (items)`, the items already written as `NAME value` pairs (RFC 9051 §7.3.4). */
export function statusLine(session: ImapSession, name: string, items: string): Buffer {
  return Buffer.concat([Buffer.from('STATUS '), mailboxWire(session, name), Buffer.from(` (${items})`)]);
}
