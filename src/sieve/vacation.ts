/**
 * Whether a vacation reply may be sent (RFC 5230 §4.5 "Address Checks",
 * §4.6 "Restrictions on Responding"); the :days/:seconds memory is asked
 * of the context last, so no record is read for mail that gets no reply.
 */
import { SieveMessage } from './message.js';

const LIST_HEADERS = ['list-id', 'list-help', 'list-subscribe', 'list-unsubscribe', 'list-post', 'list-owner', 'list-archive'];
const RECIPIENT_HEADERS = ['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc'];

/** The reason not to reply, or null when a reply is allowed before the :days check. */
export function vacationBlocked(msg: SieveMessage, sender: string, own: readonly string[], maxAddresses: number): string | null {
  const s = sender.toLowerCase();
  const local = s.slice(0, s.lastIndexOf('@') < 0 ? s.length : s.lastIndexOf('@'));
  if (s === '') return 'the envelope sender is empty';
  // RFC 5230 §4.6: MAILER-DAEMON, owner-*, *-request and list managers get no reply
  if (local === 'mailer-daemon' || local.startsWith('owner-') || local.endsWith('-request') || local === 'listserv' || local === 'majordomo')
    return `the sender ${sender} is a system or list address`;
  const auto = msg.values('auto-submitted')[0];
  if (auto !== undefined && auto.toLowerCase().split(';')[0]?.trim() !== 'no') return 'the message is Auto-Submitted (RFC 3834)';
  if (LIST_HEADERS.some((h) => msg.values(h).length > 0)) return 'the message came through a mailing list';
  const precedence = msg.values('precedence')[0]?.toLowerCase();
  if (precedence === 'bulk' || precedence === 'list' || precedence === 'junk') return `the message has Precedence: ${precedence}`;
  const mine = new Set(own.map((a) => a.toLowerCase()));
  if (mine.has(s)) return 'the sender is the recipient';
  // RFC 5230 §4.5: reply only when one of the user's addresses is among the recipients in the header
  const listed = RECIPIENT_HEADERS.flatMap((h) => msg.rawValues(h).flatMap((v) => SieveMessage.addresses(v, maxAddresses)));
  if (!listed.some((a) => mine.has(`${a.local}@${a.domain}`.toLowerCase()))) return "none of the user's addresses is in To, Cc or Bcc";
  return null;
}
