/**
 * METADATA (RFC 5464): GETMETADATA and SETMETADATA on mailbox and server
 * annotations, and the METADATA responses of LIST RETURN (METADATA ...)
 * (RFC 9590).
 *
 * Server annotations belong to the account: nothing one user sets is seen by
 * another (DESIGN invariant 7), so /shared and /private differ only in name.
 * Two entries are computed and read-only: a mailbox's /private/specialuse
 * (RFC 6154 §4) and the server's /shared/admin (RFC 5464 §3.2.1.1; no contact
 * is configured, so it has no value). No unsolicited METADATA responses are
 * sent, so ENABLE METADATA is not offered (RFC 5464 §4.1).
 */
import type { MetadataDepth, Mailbox } from '../../store/types.js';
import { StoreError } from '../../store/types.js';
import { no } from '../errors.js';
import { decodeMailboxArg } from '../mailbox-name.js';
import type { ImapSession } from '../session/session.js';
import { encodeAString, encodeNString, literal } from '../../syntax/imap-string.js';
import { ParseError, type ArgReader } from '../wire/reader.js';
import { accountOf, readMailbox, requireMailbox } from './mailboxes.js';
import { mailboxWire } from '../responses.js';
import { command } from './spec.js';

const AUTHED = ['authenticated', 'selected'] as const;
/** RFC 5464 §4.1 asks for at least 1024 octets per value and 10 entries per mailbox (or server). */
const MAX_VALUE_SIZE = 16 * 1024;
const MAX_ENTRIES = 64;
const MAX_ENTRY_NAME = 1024;
/** Entries one GETMETADATA may name. */
const MAX_REQUESTED = 1000;
const SPECIAL_USE_ENTRY = '/private/specialuse';
const ADMIN_ENTRY = '/shared/admin';

/**
 * Checks an entry name (RFC 5464 §3.2) and lower-cases it: names are
 * case-insensitive. Lookups may name just a scope or the vendor prefix
 * ("/private", "/shared/vendor"), which is useful with DEPTH; names to set
 * need two components, four under vendor/. Invalid names are BAD.
 */
function checkEntry(raw: string, use: 'get' | 'set'): string {
  const name = raw.toLowerCase();
  const parts = name.split('/');
  const valid =
    name.length <= MAX_ENTRY_NAME &&
    !/[^\x20-\x7f]|[*%]/.test(name) &&
    parts[0] === '' &&
    (parts[1] === 'private' || parts[1] === 'shared') &&
    !parts.slice(1).includes('') &&
    (use === 'get' || (parts.length >= 3 && (parts[2] !== 'vendor' || parts.length >= 5)));
  if (!valid) throw new ParseError('Invalid metadata entry name');
  return name;
}

/** Reads one `entry` (an astring, RFC 5464 §5). */
export function readEntry(r: ArgReader, use: 'get' | 'set'): string {
  return checkEntry(r.astring().bytes.toString('latin1'), use);
}

/** `value = nstring / literal8` (RFC 5464 §5); null for NIL. */
function readValue(r: ArgReader): Buffer | null {
  if (!r.atLiteral()) return r.nstring()?.bytes ?? null;
  // ArgReader.string() refuses literal8, which may carry NUL here; a plain literal may not.
  const seg = r.messageLiteral();
  if (seg.kind !== 'literal') throw new ParseError('Unexpected streamed literal');
  if (!seg.binary && seg.bytes.includes(0)) throw new ParseError('NUL in literal');
  return seg.bytes;
}

/** Whether looking up `entry` at `depth` reaches `name` (RFC 5464 §4.2.2). */
function covers(entry: string, name: string, depth: MetadataDepth): boolean {
  if (name === entry) return true;
  if (depth === 0 || !name.startsWith(`${entry}/`)) return false;
  return depth === 'infinity' || !name.includes('/', entry.length + 1);
}

/** Stored and computed entries of a mailbox, or with null of the server. */
async function lookup(session: ImapSession, mailbox: Mailbox | null, entries: readonly string[], depth: MetadataDepth): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  for (const e of await session.store.getMetadata(accountOf(session), mailbox?.id ?? null, entries, depth)) found.set(e.name, e.value);
  // RFC 6154 §4: the special use, as LIST shows it.
  if (mailbox?.specialUse && entries.some((e) => covers(e, SPECIAL_USE_ENTRY, depth))) {
    found.set(SPECIAL_USE_ENTRY, Buffer.from(mailbox.specialUse));
  }
  return found;
}

/** `METADATA mailbox (entry value ...)` (RFC 5464 §4.4.1); "" names the server. */
function metadataLine(session: ImapSession, mailboxName: string, values: ReadonlyMap<string, Buffer | null>): Buffer {
  const parts: Buffer[] = [Buffer.from('METADATA '), mailboxWire(session, mailboxName), Buffer.from(' (')];
  let first = true;
  for (const [name, value] of values) {
    if (!first) parts.push(Buffer.from(' '));
    first = false;
    // A literal cannot carry NUL (RFC 9051 §9 CHAR8); a literal8 can.
    const encoded = value?.includes(0) ? literal(value, true) : encodeNString(value, session.encodeMode);
    parts.push(encodeAString(name), Buffer.from(' '), encoded);
  }
  parts.push(Buffer.from(')'));
  return Buffer.concat(parts);
}

/** RFC 9590 §3: the METADATA response LIST sends for a mailbox; entries without a value show NIL. */
export async function metadataResponse(session: ImapSession, mailbox: Mailbox, entries: readonly string[]): Promise<Buffer> {
  const found = await lookup(session, mailbox, entries, 0);
  return metadataLine(session, mailbox.name, new Map(entries.map((e) => [e, found.get(e) ?? null])));
}

interface GetArgs {
  mailbox: string;
  entries: string[];
  maxSize: number | null;
  depth: MetadataDepth;
}

/** Reads a parenthesized list of words: options, or entries in the ambiguous position. */
function readWords(r: ArgReader): string[] {
  return r.list(() => r.astring().bytes.toString('latin1'), false);
}

/** `getmetadata-options` (RFC 5464 §4.2.1 MAXSIZE n, §4.2.2 DEPTH 0 / 1 / infinity). */
function applyOptions(words: readonly string[], args: GetArgs): void {
  for (let i = 0; i < words.length; i += 2) {
    const option = words[i]!.toUpperCase();
    const value = words[i + 1]?.toLowerCase();
    if (option === 'MAXSIZE' && value !== undefined && /^\d{1,10}$/.test(value) && Number(value) <= 0xffffffff) {
      args.maxSize = Number(value);
    } else if (option === 'DEPTH' && (value === '0' || value === '1')) {
      args.depth = value === '0' ? 0 : 1;
    } else if (option === 'DEPTH' && value === 'infinity') {
      args.depth = 'infinity';
    } else {
      throw new ParseError(`Invalid GETMETADATA option ${option}`);
    }
  }
}

/** `entries` (RFC 5464 §5): one entry or a parenthesized list. */
function readEntries(r: ArgReader): string[] {
  if (r.peekByte() === 0x28) return r.list(() => readEntry(r, 'get'), false);
  const out = [readEntry(r, 'get')];
  // The examples of RFC 5464 §4.4.1 list several entries without parentheses.
  while (!r.atEnd()) {
    if (out.length >= MAX_REQUESTED) throw new ParseError('Too many entries');
    r.sp();
    out.push(readEntry(r, 'get'));
  }
  return out;
}

/** RFC 5464 §4.2 — GETMETADATA. */
export const getMetadata = command({
  name: 'GETMETADATA',
  states: AUTHED,
  parse(r, inv): GetArgs {
    const args: GetArgs = { mailbox: '', entries: [], maxSize: null, depth: 0 };
    // The ABNF (§5) puts options before the mailbox, the examples (§4.2.1, §4.2.2) after it: take both.
    r.sp();
    if (r.peekByte() === 0x28) {
      applyOptions(readWords(r), args);
      r.sp();
    }
    args.mailbox = decodeMailboxArg(r.astring(), inv.session.encodeMode.utf8);
    r.sp();
    if (r.peekByte() !== 0x28) {
      args.entries = readEntries(r);
    } else {
      const words = readWords(r);
      if (words[0]?.startsWith('/')) {
        args.entries = words.map((w) => checkEntry(w, 'get'));
      } else {
        applyOptions(words, args);
        r.sp();
        args.entries = readEntries(r);
      }
    }
    if (args.entries.length > MAX_REQUESTED) throw new ParseError('Too many entries');
    return args;
  },
  async run(inv, { mailbox, entries, maxSize, depth }) {
    const session = inv.session;
    const mb = mailbox === '' ? null : await requireMailbox(session, mailbox);
    const found = await lookup(session, mb, entries, depth);
    // Named entries first (NIL when absent), then what DEPTH reached.
    const values = new Map<string, Buffer | null>(entries.map((e) => [e, null]));
    let longest = 0;
    for (const [name, value] of found) {
      if (maxSize !== null && value.length > maxSize) {
        values.delete(name);
        longest = Math.max(longest, value.length);
      } else {
        values.set(name, value);
      }
    }
    if (values.size > 0) session.untagged(metadataLine(session, mb?.name ?? '', values));
    // RFC 5464 §4.2.1: the biggest value left out.
    if (longest > 0) return { code: `METADATA LONGENTRIES ${longest}` };
  },
});

/** RFC 5464 §4.3 — SETMETADATA: all entries change, or none (the store runs one transaction). */
export const setMetadata = command({
  name: 'SETMETADATA',
  states: AUTHED,
  parse(r, inv) {
    const mailbox = readMailbox(r, inv);
    r.sp();
    const values = r.list(() => {
      const name = readEntry(r, 'set');
      r.sp();
      return [name, readValue(r)] as const;
    }, false);
    return { mailbox, values };
  },
  async run(inv, { mailbox, values }) {
    const session = inv.session;
    const mb = mailbox === '' ? null : await requireMailbox(session, mailbox);
    const readOnly = mb ? SPECIAL_USE_ENTRY : ADMIN_ENTRY;
    for (const [name, value] of values) {
      if (name === readOnly) throw no('NOPERM', 'That entry is read-only');
      if (value && value.length > MAX_VALUE_SIZE) throw no(`METADATA MAXSIZE ${MAX_VALUE_SIZE}`, 'Annotation value too large');
    }
    try {
      await session.store.setMetadata(accountOf(session), mb?.id ?? null, values, MAX_ENTRIES);
      session.notifier.ownEntries(
        mb?.id ?? null,
        values.map(([name]) => name),
      );
      if (mb) session.notifier.ownCommit(mb.id);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'LIMIT') throw no('METADATA TOOMANY', 'Too many annotations');
      throw e;
    }
  },
});
