/**
 * IMAP command generator following the RFC 9051 §9 grammar (plus the
 * extensions mailkeep advertises): tags, every command, sequence sets,
 * atoms/quoted/literals (synchronizing, LITERAL+ and `~{n}` binary), nested
 * lists, FETCH items with sections and partials, SEARCH keys, STORE flag lists,
 * mailbox names in modified UTF-7 and UTF-8, CONDSTORE/QRESYNC parameters,
 * ENABLE, IDLE/DONE, COMPRESS, APPEND with CATENATE, AUTHENTICATE and LOGIN.
 * Output is mostly valid, sometimes slightly off (the mutator does the rest).
 */
import type { Rng } from './rng.js';

/** Credentials the generator may use so some LOGINs succeed (the harness creates this account). */
export const FUZZ_LOGIN = { user: 'fuzzlogin', password: 'fuzz-pw' } as const;

const MAILBOXES = [
  'INBOX',
  'inbox',
  'Drafts',
  'Sent',
  'Trash',
  'Junk',
  'Archive',
  'fz',
  'fz/sub',
  'fz.x',
  'Caf&AOk-',
  'Caf\u00e9',
  '&Jjo-!',
  '~peter/mail',
  '..',
  '%',
  '*',
  '',
];
const SYSTEM_FLAGS = [
  '\\Seen',
  '\\Answered',
  '\\Flagged',
  '\\Deleted',
  '\\Draft',
  '\\Recent',
  '\\*',
  '\\Bogus',
  '$Forwarded',
  '$Junk',
  '$MDNSent',
  'kw1',
  'Kw_2',
];
const FETCH_ATTS = [
  'FLAGS',
  'UID',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODYSTRUCTURE',
  'BODY',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
  'MODSEQ',
  'EMAILID',
  'THREADID',
  'SAVEDATE',
  'PREVIEW',
  'PREVIEW (LAZY)',
  'ALL',
  'FAST',
  'FULL',
];
const SEARCH_SIMPLE = [
  'ALL',
  'ANSWERED',
  'DELETED',
  'DRAFT',
  'FLAGGED',
  'NEW',
  'OLD',
  'RECENT',
  'SEEN',
  'UNANSWERED',
  'UNDELETED',
  'UNDRAFT',
  'UNFLAGGED',
  'UNSEEN',
  '$',
];
const SEARCH_STRING = ['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO'];
const SEARCH_DATE = ['BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE', 'SAVEDBEFORE', 'SAVEDON', 'SAVEDSINCE'];
const STATUS_ITEMS = ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'MAILBOXID', 'APPENDLIMIT'];
const CAPS = ['IMAP4rev2', 'CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'UIDONLY', 'METADATA', 'X-NOPE', 'IMAP4rev1'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec', 'Foo'];

/** Generates one IMAP command (bytes, CRLF-terminated) for a session in some state. */
export class ImapGrammar {
  constructor(private readonly r: Rng) {}

  tag(): string {
    return this.r.weighted<() => string>([
      [20, () => `t${this.r.int(0, 9999)}`],
      [2, () => this.r.pick(['*', '+', 'a+b', 'a%', 'a{1}', 'a"b', 'a\\b', 'a]b', 'A.1', '', 'x'.repeat(this.r.size(300))])],
    ])();
  }

  /** One command line or a few, CRLF-terminated. */
  command(): Buffer {
    const parts = [this.tag(), ' ', this.body(), '\r\n'];
    return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
  }

  private body(): string | Buffer {
    const r = this.r;
    const uid = r.chance(0.3) ? 'UID ' : '';
    return r.weighted<() => string | Buffer>([
      [3, () => r.pick(['CAPABILITY', 'NOOP', 'CHECK', 'CLOSE', 'UNSELECT', 'EXPUNGE', 'NAMESPACE', 'IDLE', 'DONE', 'COMPRESS NOPE', 'NOTIFY NONE'])],
      // These end the session's plain-text life, and a new session costs the server a 32 MiB scrypt to log in: rarer.
      [1, () => (r.chance(0.2) ? r.pick(['LOGOUT', 'STARTTLS', 'COMPRESS DEFLATE']) : 'NOOP')],
      // Each complete LOGIN/AUTHENTICATE costs the server a 32 MiB scrypt: mostly send the incomplete ones, which fail before hashing.
      [
        2,
        () =>
          r.chance(0.15)
            ? `LOGIN ${this.astring(r.chance(0.5) ? FUZZ_LOGIN.user : this.word())} ${this.astring(r.chance(0.5) ? FUZZ_LOGIN.password : this.word())}`
            : `LOGIN ${this.astring(this.word())}`,
      ],
      [2, () => (r.chance(0.15) ? this.authenticate() : `AUTHENTICATE ${r.pick(['NOPE', 'PLAIN !!', 'PLAIN =', 'X-'])}`)],
      [3, () => `ENABLE ${this.several(() => r.pick(CAPS), 4)}`],
      [2, () => `ID ${r.chance(0.3) ? 'NIL' : `(${this.several(() => `${this.quoted(this.word())} ${this.nstring()}`, 4)})`}`],
      [6, () => `${r.pick(['SELECT', 'EXAMINE'])} ${this.mailbox()}${this.selectParams()}`],
      [
        4,
        () =>
          `${r.pick(['CREATE', 'DELETE', 'SUBSCRIBE', 'UNSUBSCRIBE'])} ${this.mailbox()}${r.chance(0.2) ? ` (USE (${this.several(() => r.pick(['\\Sent', '\\Drafts', '\\Junk', '\\Nope']), 2)}))` : ''}`,
      ],
      [2, () => `RENAME ${this.mailbox()} ${this.mailbox()}`],
      [4, () => this.list()],
      [3, () => `STATUS ${this.mailbox()} (${this.several(() => r.pick(STATUS_ITEMS), 5)})`],
      [4, () => this.append()],
      [10, () => `${uid}FETCH ${this.sequenceSet()} ${this.fetchAtts()}${this.fetchModifiers()}`],
      [8, () => `${uid}${r.pick(['SEARCH', 'SORT', 'THREAD'])} ${this.searchPrefix()}${this.searchKeys(0)}`],
      [
        6,
        () =>
          `${uid}STORE ${this.sequenceSet()}${r.chance(0.2) ? ` (UNCHANGEDSINCE ${this.number()})` : ''} ${r.pick(['', '+', '-'])}FLAGS${r.chance(0.3) ? '.SILENT' : ''} ${this.flagList()}`,
      ],
      [4, () => `${uid}${r.pick(['COPY', 'MOVE'])} ${this.sequenceSet()} ${this.mailbox()}`],
      [2, () => `UID EXPUNGE ${this.sequenceSet()}`],
      [3, () => this.metadata()],
      [2, () => `GETQUOTAROOT ${this.mailbox()}`],
      [1, () => `GETQUOTA ${this.astring(r.pick(['', 'User quota', 'x']))}`],
      [
        2,
        () =>
          `NOTIFY SET ${r.chance(0.3) ? 'STATUS ' : ''}(${r.pick(['SELECTED', 'SELECTED-DELAYED', 'PERSONAL', 'INBOXES', 'SUBSCRIBED', `MAILBOXES ${this.mailbox()}`, `SUBTREE (${this.mailbox()})`])} ${r.chance(0.3) ? 'NONE' : `(${this.several(() => r.pick(['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange', 'Nope']), 3)})`})`,
      ],
      [2, () => `REPLACE ${this.number()} ${this.mailbox()} ${this.literal(this.message())}`],
      [4, () => this.garbageArgs()],
    ])();
  }

  private authenticate(): string {
    const r = this.r;
    const plain = Buffer.from(`\0${FUZZ_LOGIN.user}\0${r.chance(0.5) ? FUZZ_LOGIN.password : this.word()}`).toString('base64');
    const mech = r.pick(['PLAIN', 'plain', 'LOGIN', 'XOAUTH2', 'NOPE', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS']);
    // A SCRAM client-first-message (RFC 5802 §7), well formed or not; the server answers with a challenge.
    const scramFirst = Buffer.from(`${r.pick(['n', 'y', 'p=tls-exporter', 'q'])},,n=${FUZZ_LOGIN.user},r=${this.word()}`).toString('base64');
    const ir = r.weighted<() => string>([
      [3, () => ` ${plain}`],
      [2, () => ` ${scramFirst}\r\n${r.chance(0.5) ? Buffer.from(`c=biws,r=${this.word()},p=${'A'.repeat(44)}`).toString('base64') : '*'}`],
      [1, () => ' ='],
      [1, () => ` ${'QUFB'.repeat(r.size(5000))}`],
      [1, () => ` !!notbase64`],
      [2, () => `\r\n${r.chance(0.5) ? plain : '*'}`],
    ])();
    return `AUTHENTICATE ${mech}${ir}`;
  }

  private list(): string {
    const r = this.r;
    const sel = r.chance(0.3) ? `(${this.several(() => r.pick(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE', 'NOPE']), 3)}) ` : '';
    const pattern = r.chance(0.3) ? `(${this.several(() => this.mailbox(), 3)})` : this.mailbox();
    const ret = r.chance(0.3)
      ? ` RETURN (${this.several(() => r.pick(['SUBSCRIBED', 'CHILDREN', 'SPECIAL-USE', `STATUS (${this.several(() => r.pick(STATUS_ITEMS), 3)})`, 'METADATA (/private/comment)', 'MYRIGHTS']), 3)})`
      : '';
    return `${r.pick(['LIST', 'LSUB', 'XLIST'])} ${sel}${this.astring(r.pick(['', '', 'fz/', '*'.repeat(r.size(200))]))} ${pattern}${ret}`;
  }

  private append(): string {
    const r = this.r;
    const head = `${r.pick(['APPEND', 'APPEND', 'APPEND', 'append'])} ${this.mailbox()}`;
    const one = (): string => {
      const flags = r.chance(0.4) ? ` ${this.flagList()}` : '';
      const date = r.chance(0.4) ? ` ${this.quoted(this.dateTime())}` : '';
      if (r.chance(0.25)) {
        // RFC 4469 CATENATE: TEXT literals and URL parts.
        const parts = this.several(
          () =>
            r.chance(0.5)
              ? `TEXT ${this.literal(this.message())}`
              : `URL ${this.astring(r.pick(['/INBOX;UIDVALIDITY=1/;UID=1', '/INBOX/;UID=1/;SECTION=TEXT', '/fz/;UID=2;PARTIAL=0.10', 'imap://x@h/INBOX/;UID=1', '/INBOX/;UID=99999999999', '']))}`,
          3,
        );
        return `${flags}${date} CATENATE (${parts})`;
      }
      const binary = r.chance(0.15);
      return `${flags}${date} ${binary ? this.literal(this.message(), '~') : this.literal(this.message())}`;
    };
    const count = r.chance(0.15) ? r.int(2, 5) : 1;
    return head + Array.from({ length: count }, one).join('');
  }

  private metadata(): string {
    const r = this.r;
    const entry = (): string =>
      this.astring(r.pick(['/private/comment', '/shared/comment', '/private/vendor/x', '/nope', '/private/', `/private/${this.word()}`]));
    if (r.chance(0.5))
      return `GETMETADATA ${r.chance(0.3) ? '(MAXSIZE 10 DEPTH infinity) ' : ''}${this.mailbox()} ${r.chance(0.5) ? entry() : `(${this.several(entry, 3)})`}`;
    return `SETMETADATA ${this.mailbox()} (${this.several(() => `${entry()} ${this.nstring()}`, 3)})`;
  }

  private selectParams(): string {
    const r = this.r;
    if (!r.chance(0.3)) return '';
    return ` (${this.several(
      () =>
        r.pick([
          'CONDSTORE',
          `QRESYNC (${this.number()} ${this.number()}${r.chance(0.5) ? ` ${this.sequenceSet()}` : ''}${r.chance(0.3) ? ` (${this.sequenceSet()} ${this.sequenceSet()})` : ''})`,
          'NOPE',
        ]),
      2,
    )})`;
  }

  sequenceSet(): string {
    const r = this.r;
    const num = (): string =>
      r.weighted([
        [10, String(r.int(1, 12))],
        [2, '*'],
        [1, String(r.int(0, 2 ** 32 + 5))],
        [1, '$'],
        [1, '0'],
      ]);
    const part = (): string => (r.chance(0.4) ? `${num()}:${num()}` : num());
    return Array.from({ length: r.int(1, r.chance(0.05) ? 200 : 4) }, part).join(',');
  }

  private fetchAtts(): string {
    const r = this.r;
    const att = (): string =>
      r.weighted<() => string>([
        [5, () => r.pick(FETCH_ATTS)],
        [5, () => `${r.pick(['BODY', 'BODY.PEEK', 'BINARY', 'BINARY.PEEK', 'BINARY.SIZE'])}[${this.section()}]${this.partial()}`],
      ])();
    return r.chance(0.4) ? att() : `(${this.several(att, 6)})`;
  }

  private section(): string {
    const r = this.r;
    const part = r.chance(0.4)
      ? Array.from({ length: r.int(1, 4) }, () =>
          String(
            r.weighted([
              [8, r.int(1, 4)],
              [1, 0],
              [1, 4294967295],
            ]),
          ),
        ).join('.')
      : '';
    const text = r.pick([
      '',
      'HEADER',
      'TEXT',
      'MIME',
      `HEADER.FIELDS (${this.several(() => r.pick(['Subject', 'From', 'TO', 'X-Nope', 'date']), 3)})`,
      'HEADER.FIELDS.NOT (Subject)',
      'HEADER.FIELDS ()',
    ]);
    return part && text ? `${part}.${text}` : part + text;
  }

  private partial(): string {
    const r = this.r;
    return r.chance(0.3)
      ? `<${r.int(0, 5000)}${
          r.chance(0.8)
            ? `.${r.weighted([
                [5, r.int(0, 5000)],
                [1, 4294967295],
                [1, 0],
              ])}`
            : ''
        }>`
      : '';
  }

  private fetchModifiers(): string {
    const r = this.r;
    if (!r.chance(0.2)) return '';
    return ` (${this.several(() => r.pick([`CHANGEDSINCE ${this.number()}`, 'VANISHED', `PARTIAL ${r.int(-5, 5)}:${r.int(-5, 5)}`]), 2)})`;
  }

  private searchPrefix(): string {
    const r = this.r;
    let s = '';
    if (r.chance(0.2)) s += `RETURN (${this.several(() => r.pick(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE', `PARTIAL 1:${r.int(1, 100)}`]), 3)}) `;
    if (r.chance(0.2)) s += `(${this.several(() => r.pick(['ARRIVAL', 'REVERSE DATE', 'SUBJECT', 'FROM', 'DISPLAYFROM', 'SIZE', 'NOPE']), 3)}) `;
    if (r.chance(0.2)) s += `${r.pick(['ORDEREDSUBJECT', 'REFERENCES', 'NOPE'])} `;
    if (r.chance(0.2)) s += `CHARSET ${r.pick(['UTF-8', 'US-ASCII', 'ISO-8859-1', 'NOPE-9'])} `;
    return s;
  }

  private searchKeys(depth: number): string {
    return this.several(() => this.searchKey(depth), 4);
  }

  private searchKey(depth: number): string {
    const r = this.r;
    const deeper = depth < 5;
    return r.weighted<() => string>([
      [6, () => r.pick(SEARCH_SIMPLE)],
      [5, () => `${r.pick(SEARCH_STRING)} ${this.astring(this.text())}`],
      [3, () => `${r.pick(SEARCH_DATE)} ${this.date()}`],
      [2, () => `HEADER ${this.astring(r.pick(['Subject', 'X-Nope', '']))} ${this.astring(this.text())}`],
      [2, () => `${r.pick(['KEYWORD', 'UNKEYWORD'])} ${r.pick(SYSTEM_FLAGS)}`],
      [2, () => `${r.pick(['LARGER', 'SMALLER', 'OLDER', 'YOUNGER'])} ${this.number()}`],
      [2, () => `MODSEQ ${r.chance(0.3) ? '"/flags/\\\\seen" all ' : ''}${this.number()}`],
      [2, () => `${r.pick(['EMAILID', 'THREADID'])} ${this.word()}`],
      [3, () => (r.chance(0.5) ? this.sequenceSet() : `UID ${this.sequenceSet()}`)],
      [deeper ? 2 : 0, () => `NOT ${this.searchKey(depth + 1)}`],
      [deeper ? 2 : 0, () => `OR ${this.searchKey(depth + 1)} ${this.searchKey(depth + 1)}`],
      [deeper ? 2 : 0, () => `(${this.searchKeys(depth + 1)})`],
    ])();
  }

  flagList(): string {
    const r = this.r;
    return r.chance(0.1) ? r.pick(SYSTEM_FLAGS) : `(${this.several(() => (r.chance(0.8) ? r.pick(SYSTEM_FLAGS) : this.word()), 5)})`;
  }

  mailbox(): string {
    const r = this.r;
    return r.weighted<() => string>([
      [8, () => this.astring(r.pick(MAILBOXES))],
      [2, () => this.astring(`fz/${this.word()}`)],
      [1, () => this.astring(this.text())],
      [1, () => this.quoted('a/'.repeat(r.size(400)))],
    ])();
  }

  /** An astring: atom when possible, else quoted or literal. */
  astring(s: string): string {
    if (/^[\x21-\x7e]+$/.test(s) && !/[(){ %*"\\\]]/.test(s) && this.r.chance(0.7)) return s;
    return this.r.chance(0.7) && !/[\r\n\0]/.test(s) ? this.quoted(s) : this.literal(s);
  }

  private nstring(): string {
    return this.r.chance(0.2) ? 'NIL' : this.astring(this.text());
  }

  quoted(s: string): string {
    return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  }

  /** A literal: synchronizing, LITERAL+ or binary; its count occasionally wrong. */
  literal(s: string, prefix = ''): string {
    const r = this.r;
    const n = Buffer.byteLength(s);
    const count = r.chance(0.05) ? Math.max(0, n + r.int(-3, 3)) : n;
    const plus = r.chance(0.6) ? '+' : '';
    return `${prefix}{${count}${plus}}\r\n${s}`;
  }

  word(): string {
    const r = this.r;
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.$';
    return Array.from({ length: r.int(1, 12) }, () => alphabet[r.int(0, alphabet.length - 1)]).join('');
  }

  /** Free text: ASCII, UTF-8, controls, NUL, CR/LF now and then. */
  text(): string {
    const r = this.r;
    return Array.from({ length: r.size(80) }, () =>
      r.weighted<() => string>([
        [20, () => String.fromCharCode(r.int(0x20, 0x7e))],
        [3, () => r.pick(['é', 'ı', 'ß', '☺', '\u{1F600}', '\uFEFF', '\uFFFE', 'Å'])],
        [1, () => String.fromCharCode(r.int(0, 0x1f))],
      ])(),
    ).join('');
  }

  private number(): string {
    const r = this.r;
    return r.weighted<() => string>([
      [8, () => String(r.int(0, 100))],
      [2, () => String(r.int(0, 2 ** 32))],
      [1, () => r.pick(['18446744073709551615', '18446744073709551616', '-1', '1e3', '00001'])],
    ])();
  }

  private date(): string {
    const r = this.r;
    return `${r.int(0, 33)}-${r.pick(MONTHS)}-${r.pick([r.int(1970, 2040), 0, 9999, r.int(0, 99999)])}`;
  }

  dateTime(): string {
    const r = this.r;
    const two = (n: number): string => String(n).padStart(2, '0');
    const day = r.chance(0.5) ? two(r.int(1, 31)) : ` ${r.int(1, 9)}`;
    const year = r.weighted([
      [8, r.int(1980, 2030)],
      [1, 0],
      [1, r.int(0, 99999)],
    ]);
    return `${day}-${r.pick(MONTHS)}-${String(year).padStart(4, '0')} ${two(r.int(0, 24))}:${two(r.int(0, 60))}:${two(r.int(0, 60))} ${r.pick(['+', '-'])}${String(r.int(0, 2400)).padStart(4, '0')}`;
  }

  /** A small RFC 5322 message, sometimes MIME multipart, sometimes broken. */
  message(): string {
    const r = this.r;
    const headers = [
      `From: ${r.pick(['a@example.com', '"Éva" <e@x.org>', '<>', 'broken'])}`,
      `Subject: ${this.text().replace(/[\r\n]/g, ' ')}`,
      `Date: ${r.pick(['Mon, 7 Dec 2026 12:00:00 +0000', 'nope'])}`,
    ];
    if (r.chance(0.3)) {
      const b = this.word();
      headers.push(`Content-Type: multipart/mixed; boundary="${b}"`);
      const parts = Array.from(
        { length: r.int(0, 3) },
        () => `--${b}\r\nContent-Type: ${r.pick(['text/plain', 'message/rfc822', 'application/octet-stream'])}\r\n\r\n${this.text()}\r\n`,
      ).join('');
      return `${headers.join('\r\n')}\r\n\r\n${parts}${r.chance(0.7) ? `--${b}--\r\n` : ''}`;
    }
    return `${headers.join('\r\n')}\r\n\r\n${this.text()}\r\n`;
  }

  /** A command name with arguments of every kind, mostly the wrong ones: the parser's error paths. */
  private garbageArgs(): string {
    const r = this.r;
    const value = (depth: number): string =>
      r.weighted<() => string>([
        [4, () => this.word()],
        [2, () => this.quoted(this.text())],
        [2, () => this.literal(this.text())],
        [1, () => 'NIL'],
        [1, () => this.number()],
        [depth < 6 ? 2 : 0, () => `(${this.several(() => value(depth + 1), 4)})`],
        [1, () => r.pick(['(', ')', '[', ']', '{', '}', '"', '\\', '~{3}\r\nabc', '{5}', '{99999999999}\r\n'])],
      ])();
    const name = r.pick([
      'FETCH',
      'SEARCH',
      'STORE',
      'LIST',
      'STATUS',
      'APPEND',
      'SELECT',
      'LOGIN',
      'ENABLE',
      'ID',
      'GETMETADATA',
      'X-NOPE',
      'UID',
      'UID FETCH',
      'SETQUOTA',
      'ESEARCH',
    ]);
    return `${name} ${this.several(() => value(0), 6)}`;
  }

  private several(f: () => string, max: number): string {
    return Array.from({ length: this.r.int(1, max) }, f).join(' ');
  }
}
