/**
 * ENVELOPE (RFC 9051 §7.5.2) from a message header, matching Dovecot 2.3:
 * values are raw header text (RFC 2047 encoded words are not decoded),
 * line breaks removed; the subject and display names are additionally
 * "for humans" (white space collapsed). For Date, Subject, In-Reply-To and
 * Message-ID the last field wins; address fields accumulate over repeated
 * headers; Sender and Reply-To default to From.
 */
import { encodeList } from '../syntax/imap-string.js';
import { encodeAddressList, parseAddressList, type Address } from './address.js';
import { nameIs, type HeaderField } from './header-fields.js';
import { forHumans, instr, istr, nolf } from './imap-text.js';

const MAX_ADDRESSES = 10_000;

type AddressField = 'from' | 'sender' | 'reply-to' | 'to' | 'cc' | 'bcc';
type TextField = 'date' | 'subject' | 'in-reply-to' | 'message-id';
const ADDRESS_FIELDS: readonly AddressField[] = ['from', 'sender', 'reply-to', 'to', 'cc', 'bcc'];
const TEXT_FIELDS: readonly TextField[] = ['date', 'subject', 'in-reply-to', 'message-id'];

/** Encodes the ENVELOPE of a message whose header fields are given. */
export function buildEnvelope(fields: readonly HeaderField[]): Buffer {
  const text = new Map<TextField, Buffer>();
  const addrs = new Map<AddressField, Address[]>();
  for (const { name, value } of fields) {
    const t = TEXT_FIELDS.find((f) => nameIs(name, f));
    if (t !== undefined) {
      text.set(t, value);
      continue;
    }
    const a = ADDRESS_FIELDS.find((f) => nameIs(name, f));
    if (a === undefined) continue;
    const list = addrs.get(a) ?? [];
    if (list.length < MAX_ADDRESSES) list.push(...parseAddressList(value, MAX_ADDRESSES - list.length));
    addrs.set(a, list);
  }
  const str = (f: TextField): Buffer => {
    const v = text.get(f);
    return instr(v === undefined ? null : nolf(v));
  };
  const subject = text.get('subject');
  const from = addrs.get('from') ?? [];
  const orFrom = (f: AddressField): Address[] => {
    const list = addrs.get(f) ?? [];
    return list.length > 0 ? list : from;
  };
  return encodeList([
    str('date'),
    subject === undefined ? instr(null) : istr(forHumans(subject)),
    encodeAddressList(from),
    encodeAddressList(orFrom('sender')),
    encodeAddressList(orFrom('reply-to')),
    encodeAddressList(addrs.get('to') ?? []),
    encodeAddressList(addrs.get('cc') ?? []),
    encodeAddressList(addrs.get('bcc') ?? []),
    str('in-reply-to'),
    str('message-id'),
  ]);
}
