/**
 * Mailbox management in the authenticated state (RFC 9051 §6.3): CREATE (with
 * RFC 6154 §3 USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS; LIST and
 * LSUB live in list.ts.
 */
import { SPECIAL_USES } from '../../config/schema.js';
import type { AccountId } from '../../ids.js';
import type { Mailbox } from '../../store/types.js';
import { StoreError } from '../../store/types.js';
import { enableCondstore } from '../condstore.js';
import { no } from '../errors.js';
import { mailboxObjectId } from '../object-id.js';
import { ancestors, canonicalName, SEPARATOR } from '../../mail/mailbox-name.js';
import { decodeMailboxAsSent, isUndecodable, validateNewName, withoutParentMarker } from '../mailbox-name.js';
import { announceNormalized, statusLine } from '../responses.js';
import type { ImapSession } from '../session/session.js';
import { ParseError, type ArgReader } from '../wire/reader.js';
import { command, type Invocation } from './spec.js';

const AUTHED = ['authenticated', 'selected'] as const;

/** The account of an authenticated session. */
export function accountOf(session: ImapSession): AccountId {
  const st = session.state;
  if (st.kind !== 'authenticated' && st.kind !== 'selected') throw new Error('not authenticated');
  return st.account.id;
}

/** Reads one mailbox argument (SP astring) in the session's naming mode. */
export function readMailbox(r: ArgReader, inv: Invocation): string {
  return canonicalName(readMailboxAsSent(r, inv));
}

/** Reads one mailbox argument as the client wrote it (see announceNormalized). */
export function readMailboxAsSent(r: ArgReader, inv: Invocation): string {
  r.sp();
  return decodeMailboxAsSent(r.astring(), inv.session.encodeMode.utf8);
}

/** Looks up a mailbox or throws NO [NONEXISTENT]. */
export async function requireMailbox(session: ImapSession, name: string): Promise<Mailbox> {
  const mb = await session.store.getMailbox(accountOf(session), name);
  if (!mb) throw no('NONEXISTENT', 'Mailbox does not exist');
  return mb;
}

/**
 * The mailbox APPEND, COPY, MOVE or REPLACE adds to. Missing: NO [TRYCREATE]
 * (RFC 9051 §6.3.12, §6.4.7), which tells the client a CREATE would help; so
 * for a name CREATE refuses (invalid modified UTF-7) it is NO [NONEXISTENT].
 */
export async function requireTarget(session: ImapSession, name: string): Promise<Mailbox> {
  const mb = await session.store.getMailbox(accountOf(session), name);
  if (!mb) throw no(isUndecodable(name) ? 'NONEXISTENT' : 'TRYCREATE', 'Mailbox does not exist');
  return mb;
}

/** Creates any missing ancestors of a name (RFC 9051 §6.3.4: "foo/bar" implies "foo"). */
async function createParents(session: ImapSession, name: string): Promise<void> {
  const account = accountOf(session);
  for (const parent of ancestors(name)) {
    if (await session.store.getMailbox(account, parent)) continue;
    try {
      await session.store.createMailbox(account, parent);
    } catch (e) {
      if (!(e instanceof StoreError && e.code === 'ALREADYEXISTS')) throw e;
    }
  }
}

interface CreateArgs {
  name: string;
  /** RFC 6154 §3 `USE (...)` attributes as sent. */
  uses: string[];
}

/** `create-params` (RFC 4466 §2.2); USE (RFC 6154 §3) is the only one. */
function parseCreate(r: ArgReader, inv: Invocation): CreateArgs {
  const args: CreateArgs = { name: readMailboxAsSent(r, inv), uses: [] };
  if (r.atEnd()) return args;
  // `use-attr = "\" atom` (RFC 6154 §6).
  const useAttr = (): string => {
    r.expect('\\');
    return `\\${r.atom()}`;
  };
  r.sp();
  r.list(() => {
    const param = r.atom().toUpperCase();
    if (param !== 'USE') throw new ParseError(`Unknown CREATE parameter ${param}`);
    r.sp();
    args.uses.push(...r.list(useAttr));
  }, false);
  return args;
}

/** RFC 6154 §3: the special use a new mailbox gets; NO [USEATTR] for one this server cannot give. */
function chooseSpecialUse(uses: readonly string[]): string | null {
  const distinct = [...new Set(uses.map((u) => SPECIAL_USES.find((s) => s.toLowerCase() === u.toLowerCase()) ?? u))];
  const unknown = distinct.find((u) => !(SPECIAL_USES as readonly string[]).includes(u));
  if (unknown !== undefined) throw no('USEATTR', `${unknown} is not supported`);
  if (distinct.length > 1) throw no('USEATTR', 'A mailbox can have only one special use');
  return distinct[0] ?? null;
}

/** RFC 9051 §6.3.4 — CREATE. */
export const create = command({
  name: 'CREATE',
  states: AUTHED,
  parse: parseCreate,
  async run(inv, { name: raw, uses }) {
    const name = validateNewName(raw);
    if (name === 'INBOX') throw no('ALREADYEXISTS', 'INBOX always exists');
    // Before anything is created: a refused special use creates nothing (RFC 6154 §3).
    const specialUse = chooseSpecialUse(uses);
    await createParents(inv.session, name);
    const mb = await inv.session.store.createMailbox(accountOf(inv.session), name, specialUse);
    inv.session.notifier.ownNames(name);
    announceNormalized(inv.session, withoutParentMarker(raw), name);
    // RFC 8474 §4.1.
    return { code: `MAILBOXID (${mailboxObjectId(mb)})` };
  },
});

/** RFC 9051 §6.3.5 — DELETE. Inferiors stay; the name then shows as \Noselect (RFC 9051 §6.3.5). */
export const del = command({
  name: 'DELETE',
  states: AUTHED,
  parse: (r, inv) => readMailboxAsSent(r, inv),
  async run(inv, sent) {
    const session = inv.session;
    const name = canonicalName(sent);
    if (name === 'INBOX') throw no('CANNOT', 'INBOX cannot be deleted');
    const mb = await requireMailbox(session, name);
    const st = session.state;
    if (st.kind === 'selected' && st.view.mailboxId === mb.id) {
      session.state = { kind: 'authenticated', account: st.account };
      session.untagged('OK [CLOSED] Previous mailbox closed');
    }
    await session.store.deleteMailbox(accountOf(session), mb.id);
    session.notifier.ownNames(mb.name);
    announceNormalized(session, sent, mb.name, ['\\NonExistent']);
  },
});

/** RFC 9051 §6.3.6 — RENAME (inferiors follow; INBOX's messages move, INBOX stays). */
export const rename = command({
  name: 'RENAME',
  states: AUTHED,
  parse: (r, inv) => ({ from: readMailbox(r, inv), to: readMailboxAsSent(r, inv) }),
  async run(inv, { from, to: raw }) {
    const session = inv.session;
    const to = validateNewName(raw);
    if (to === 'INBOX') throw no('ALREADYEXISTS', 'INBOX always exists');
    const source = await requireMailbox(session, from);
    // A mailbox stored under a name in another normalization form (created before names were normalized)
    // may be renamed to the NFC form of its name: that target finds the mailbox itself.
    const existing = await session.store.getMailbox(accountOf(session), to);
    const normalizing = existing?.id === source.id && existing.name !== to;
    if (!normalizing && (to === from || to.startsWith(from + SEPARATOR))) throw no('CANNOT', 'Cannot rename a mailbox into itself');
    if (existing && !normalizing) throw no('ALREADYEXISTS', 'Target mailbox exists');
    await createParents(session, to);
    await session.store.renameMailbox(accountOf(session), from, to);
    session.notifier.ownNames(from, to);
    announceNormalized(session, withoutParentMarker(raw), to);
  },
});

/** RFC 9051 §6.3.7 — SUBSCRIBE (names need not exist). */
export const subscribe = command({
  name: 'SUBSCRIBE',
  states: AUTHED,
  parse: (r, inv) => readMailbox(r, inv),
  async run(inv, name) {
    await inv.session.store.setSubscribed(accountOf(inv.session), validateNewName(name), true);
    inv.session.notifier.ownNames(name);
  },
});

/** RFC 9051 §6.3.8 — UNSUBSCRIBE. */
export const unsubscribe = command({
  name: 'UNSUBSCRIBE',
  states: AUTHED,
  parse: (r, inv) => readMailbox(r, inv),
  async run(inv, name) {
    await inv.session.store.setSubscribed(accountOf(inv.session), name, false);
    inv.session.notifier.ownNames(name);
  },
});

const STATUS_ITEMS = new Set(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'DELETED-STORAGE', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'MAILBOXID']);

/** Reads `(status-att ...)`: for STATUS, and LIST RETURN (STATUS ...) (RFC 5819 §4). */
export function readStatusItems(r: ArgReader): string[] {
  return r.list(() => {
    const item = r.atom().toUpperCase();
    if (!STATUS_ITEMS.has(item)) throw new ParseError(`Unknown STATUS item ${item}`);
    return item;
  }, false);
}

/** The STATUS response (RFC 9051 §7.2.4) for a mailbox; NONEXISTENT if it went away meanwhile. */
export async function statusResponse(session: ImapSession, mb: Mailbox, items: readonly string[]): Promise<Buffer> {
  const counts = await session.store.mailboxCounts(accountOf(session), mb.id);
  // RFC 7162 §3.1.9: STATUS HIGHESTMODSEQ is a CONDSTORE-enabling command.
  if (items.includes('HIGHESTMODSEQ')) enableCondstore(session);
  const values: Record<string, number | string> = {
    MESSAGES: counts.messages,
    UIDNEXT: mb.uidNext,
    UIDVALIDITY: mb.uidValidity,
    UNSEEN: counts.unseen,
    DELETED: counts.deleted,
    // RFC 9208 §5.1 (required with QUOTA=RES-STORAGE): the sum of RFC822.SIZE of the \Deleted messages.
    'DELETED-STORAGE': counts.deletedSize,
    SIZE: counts.size,
    RECENT: counts.recent,
    HIGHESTMODSEQ: mb.highestModSeq,
    // RFC 8474 §4.3.
    MAILBOXID: `(${mailboxObjectId(mb)})`,
  };
  const body = [...new Set(items)].map((i) => `${i} ${values[i]}`).join(' ');
  return statusLine(session, mb.name, body);
}

/** RFC 9051 §6.3.11 — STATUS. */
export const status = command({
  name: 'STATUS',
  states: AUTHED,
  parse(r, inv) {
    const name = readMailbox(r, inv);
    r.sp();
    return { name, items: readStatusItems(r) };
  },
  async run(inv, { name, items }) {
    const session = inv.session;
    session.untagged(await statusResponse(session, await requireMailbox(session, name), items));
  },
});
