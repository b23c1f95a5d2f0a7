/**
 * IMAP message URLs (RFC 5092) as CATENATE (RFC 4469 §3) uses them: a
 * message or message part of the current account, optionally narrowed to a
 * byte range (RFC 5550 §4, URL-PARTIAL). Only what names a message is
 * understood; URLAUTH, searches and mailbox lists are refused by returning null.
 *
 *   /INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9/;PARTIAL=0.1024
 *   imap://fred@example.org/INBOX/;UID=20
 */

/** A parsed message-part URL. */
export interface ImapMessageUrl {
  /** The user of an absolute URL (decoded), null when the URL is relative. */
  user: string | null;
  /** Mailbox name in UTF-8 (RFC 5092 §3.2: percent-encoded UTF-8). */
  mailbox: string;
  uidValidity: number | null;
  uid: number;
  /** The section as FETCH BODY[...] would take it, e.g. `1.2.MIME` or `HEADER.FIELDS (TO)`; null: the whole message. */
  section: string | null;
  /** `;PARTIAL=offset[.length]`; length null: to the end. */
  partial: { offset: number; length: number | null } | null;
}

/** Longest URL accepted (the astring is bounded by the command line anyway). */
export const MAX_URL_LENGTH = 4096;

const NZ_NUMBER = /^[1-9][0-9]{0,9}$/;
const NUMBER = /^(0|[1-9][0-9]{0,9})$/;
const UINT32_MAX = 0xffffffff;

/** RFC 3986 percent-decoding to UTF-8; null for malformed escapes or invalid UTF-8. */
function percentDecode(s: string): string | null {
  if (!/^(?:[^%]|%[0-9A-Fa-f]{2})*$/.test(s)) return null;
  const bytes = Buffer.from(
    s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  );
  const text = bytes.toString('utf8');
  // A lone invalid sequence decodes to U+FFFD; round-tripping tells it apart from a real one.
  return Buffer.from(text, 'utf8').equals(bytes) ? text : null;
}

function uint32(s: string, pattern: RegExp): number | null {
  if (!pattern.test(s)) return null;
  const n = Number(s);
  return n <= UINT32_MAX ? n : null;
}

/** Splits `imap://[user[;AUTH=x]@]host[:port]/rest` into its user and path; relative URLs pass through. */
function splitServer(url: string): { user: string | null; path: string } | null {
  if (!/^imap:\/\//i.test(url)) return url.startsWith('/') ? { user: null, path: url } : null;
  const rest = url.slice('imap://'.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return null;
  const server = rest.slice(0, slash);
  const at = server.lastIndexOf('@');
  if (at < 0) return null; // RFC 4469 §3: the message must be the current user's; without a user we cannot tell.
  const userinfo = server.slice(0, at);
  const semi = userinfo.indexOf(';');
  const user = percentDecode(semi < 0 ? userinfo : userinfo.slice(0, semi));
  if (user === null || user === '') return null;
  return { user, path: rest.slice(slash) };
}

/** Parses a message(-part) URL; null when it is malformed or names anything else. */
export function parseImapUrl(url: string): ImapMessageUrl | null {
  if (url.length > MAX_URL_LENGTH) return null;
  const split = splitServer(url);
  if (!split) return null;
  // `/enc-mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=p]`: the mailbox may itself contain "/".
  const m = /^\/(.+?)(?:;UIDVALIDITY=([^/;]*))?\/;UID=([^/;]*)((?:\/;[^/]*)*)$/i.exec(split.path);
  if (!m) return null;
  const mailbox = percentDecode(m[1]!);
  const uid = uint32(m[3]!, NZ_NUMBER);
  const uidValidity = m[2] === undefined ? null : uint32(m[2], NZ_NUMBER);
  if (mailbox === null || uid === null || (m[2] !== undefined && uidValidity === null)) return null;

  let section: string | null = null;
  let partial: ImapMessageUrl['partial'] = null;
  for (const param of m[4]!.split('/').slice(1)) {
    const eq = param.indexOf('=');
    const key = param.slice(0, eq).toUpperCase();
    const value = param.slice(eq + 1);
    if (key === ';SECTION' && section === null && partial === null) {
      section = percentDecode(value);
      if (!section) return null;
    } else if (key === ';PARTIAL' && partial === null) {
      partial = parsePartial(value);
      if (!partial) return null;
    } else {
      return null; // ;URLAUTH and anything unknown: we cannot honour it, so the URL is bad.
    }
  }
  return { user: split.user, mailbox, uidValidity, uid, section, partial };
}

/** RFC 5092 `partial-range = number ["." nz-number]`. */
function parsePartial(value: string): ImapMessageUrl['partial'] {
  const [offsetText, lengthText, extra] = value.split('.');
  if (extra !== undefined || offsetText === undefined) return null;
  const offset = uint32(offsetText, NUMBER);
  const length = lengthText === undefined ? null : uint32(lengthText, NZ_NUMBER);
  if (offset === null || (lengthText !== undefined && length === null)) return null;
  return { offset, length };
}
