/**
 * Mailbox management in the authenticated state (RFC 9051 §6.3): CREATE,
 * DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB (RFC 3501 §6.3.9), STATUS.
 */
import type { AccountId } from '../../ids.js';
import type { Mailbox } from '../../store/types.js';
import { StoreError } from '../../store/types.js';
import { enableCondstore } from '../condstore.js';
import { no } from '../errors.js';
import { ancestors, compilePattern, decodeMailboxArg, encodeMailboxName, SEPARATOR, validateNewName } from '../mailbox-name.js';
import type { ImapSession } from '../session/session.js';
import { encodeAString, encodeString } from '../wire/encode.js';
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
  r.sp();
  return decodeMailboxArg(r.astring(), inv.session.encodeMode.utf8);
}

/** The wire form of a mailbox name for this session. */
export function mailboxWire(session: ImapSession, name: string): Buffer {
  return encodeAString(encodeMailboxName(name, session.encodeMode.utf8), session.encodeMode);
}

/** Looks up a mailbox or throws NO [NONEXISTENT]. */
export async function requireMailbox(session: ImapSession, name: string): Promise<Mailbox> {
  const mb = await session.store.getMailbox(accountOf(session), name);
  if (!mb) throw no('NONEXISTENT', 'Mailbox does not exist');
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

/** RFC 9051 §6.3.4 — CREATE. */
export const create = command({
  name: 'CREATE',
  states: AUTHED,
  parse: (r, inv) => readMailbox(r, inv),
  async run(inv, raw) {
    const name = validateNewName(raw);
    if (name === 'INBOX') throw no('ALREADYEXISTS', 'INBOX always exists');
    await createParents(inv.session, name);
    await inv.session.store.createMailbox(accountOf(inv.session), name);
  },
});

/** RFC 9051 §6.3.5 — DELETE. Inferiors stay; the name then shows as \Noselect (RFC 9051 §6.3.5). */
export const del = command({
  name: 'DELETE',
  states: AUTHED,
  parse: (r, inv) => readMailbox(r, inv),
  async run(inv, name) {
    const session = inv.session;
    if (name === 'INBOX') throw no('CANNOT', 'INBOX cannot be deleted');
    const mb = await requireMailbox(session, name);
    const st = session.state;
    if (st.kind === 'selected' && st.view.mailboxId === mb.id) {
      session.state = { kind: 'authenticated', account: st.account };
      session.untagged('OK [CLOSED] Previous mailbox closed');
    }
    await session.store.deleteMailbox(accountOf(session), mb.id);
  },
});

/** RFC 9051 §6.3.6 — RENAME (inferiors follow; INBOX's messages move, INBOX stays). */
export const rename = command({
  name: 'RENAME',
  states: AUTHED,
  parse: (r, inv) => ({ from: readMailbox(r, inv), to: readMailbox(r, inv) }),
  async run(inv, { from, to: raw }) {
    const session = inv.session;
    const to = validateNewName(raw);
    if (to === 'INBOX') throw no('ALREADYEXISTS', 'INBOX always exists');
    if (to === from || to.startsWith(from + SEPARATOR)) throw no('CANNOT', 'Cannot rename a mailbox into itself');
    await requireMailbox(session, from);
    if (await session.store.getMailbox(accountOf(session), to)) throw no('ALREADYEXISTS', 'Target mailbox exists');
    await createParents(session, to);
    await session.store.renameMailbox(accountOf(session), from, to);
  },
});

/** RFC 9051 §6.3.7 — SUBSCRIBE (names need not exist). */
export const subscribe = command({
  name: 'SUBSCRIBE',
  states: AUTHED,
  parse: (r, inv) => readMailbox(r, inv),
  async run(inv, name) {
    await inv.session.store.setSubscribed(accountOf(inv.session), validateNewName(name), true);
  },
});

/** RFC 9051 §6.3.8 — UNSUBSCRIBE. */
export const unsubscribe = command({
  name: 'UNSUBSCRIBE',
  states: AUTHED,
  parse: (r, inv) => readMailbox(r, inv),
  async run(inv, name) {
    await inv.session.store.setSubscribed(accountOf(inv.session), name, false);
  },
});

interface ListArgs {
  reference: string;
  pattern: string;
}

function parseList(r: ArgReader, inv: Invocation): ListArgs {
  r.sp();
  const utf8 = inv.session.encodeMode.utf8;
  const reference = decodeMailboxArg(r.astring(), utf8);
  r.sp();
  const patternArg = r.listMailbox();
  if (patternArg.bytes.length > 1024) throw new ParseError('Pattern too long');
  const pattern = patternArg.bytes.length === 0 ? '' : decodeMailboxArg(patternArg, utf8);
  return { reference, pattern };
}

/** A name in a listing, real or only implied by an inferior. */
interface Node {
  mailbox: Mailbox | null;
  hasChildren: boolean;
}

/** All names with their implied parents (RFC 9051 §6.3.9: \Noselect/\NonExistent hierarchy). */
function buildTree(mailboxes: Mailbox[]): Map<string, Node> {
  const nodes = new Map<string, Node>();
  for (const mb of mailboxes) nodes.set(mb.name, { mailbox: mb, hasChildren: false });
  for (const mb of mailboxes) {
    for (const parent of ancestors(mb.name)) {
      const node = nodes.get(parent);
      if (node) node.hasChildren = true;
      else nodes.set(parent, { mailbox: null, hasChildren: true });
    }
  }
  return nodes;
}

/** Writes `* LIST (attrs) "/" name` lines. */
function listLine(session: ImapSession, verb: 'LIST' | 'LSUB', attrs: string[], name: string): void {
  session.untagged(Buffer.concat([Buffer.from(`${verb} (${attrs.join(' ')}) `), encodeString(SEPARATOR), Buffer.from(' '), mailboxWire(session, name)]));
}

/** RFC 9051 §6.3.9 — LIST (basic form). */
export const list = command({
  name: 'LIST',
  states: AUTHED,
  parse: parseList,
  async run(inv, { reference, pattern }) {
    const session = inv.session;
    if (pattern === '') {
      // The hierarchy delimiter and root name.
      listLine(session, 'LIST', ['\\Noselect'], '');
      return;
    }
    const match = compilePattern(reference, pattern);
    const tree = buildTree(await session.store.listMailboxes(accountOf(session)));
    const names = [...tree.keys()].filter(match).sort(byName);
    for (const name of names) {
      const node = tree.get(name)!;
      const attrs: string[] = [];
      if (!node.mailbox) attrs.push(session.rev2 ? '\\NonExistent' : '\\Noselect');
      attrs.push(node.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
      if (node.mailbox?.specialUse) attrs.push(node.mailbox.specialUse);
      listLine(session, 'LIST', attrs, name);
    }
  },
});

/** RFC 3501 §6.3.9 — LSUB (IMAP4rev1 only; removed in rev2). */
export const lsub = command({
  name: 'LSUB',
  states: AUTHED,
  parse: parseList,
  async run(inv, { reference, pattern }) {
    const session = inv.session;
    const match = compilePattern(reference, pattern);
    const account = accountOf(session);
    const subscribed = new Set(await session.store.listSubscriptions(account));
    const existing = new Set((await session.store.listMailboxes(account)).map((m) => m.name));
    const out = new Map<string, string[]>();
    for (const name of subscribed) {
      if (match(name)) out.set(name, existing.has(name) ? [] : ['\\Noselect']);
      // RFC 3501 §6.3.9: a "%" may match an unsubscribed parent of a subscribed name.
      for (const parent of ancestors(name)) {
        if (!subscribed.has(parent) && match(parent) && !out.has(parent)) out.set(parent, ['\\Noselect']);
      }
    }
    for (const name of [...out.keys()].sort(byName)) listLine(session, 'LSUB', out.get(name)!, name);
  },
});

function byName(a: string, b: string): number {
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const STATUS_ITEMS = new Set(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ']);

/** RFC 9051 §6.3.11 — STATUS. */
export const status = command({
  name: 'STATUS',
  states: AUTHED,
  parse(r, inv) {
    const name = readMailbox(r, inv);
    r.sp();
    const items = r.list(() => {
      const item = r.atom().toUpperCase();
      if (!STATUS_ITEMS.has(item)) throw new ParseError(`Unknown STATUS item ${item}`);
      return item;
    }, false);
    return { name, items };
  },
  async run(inv, { name, items }) {
    const session = inv.session;
    const mb = await requireMailbox(session, name);
    const counts = await session.store.mailboxCounts(accountOf(session), mb.id);
    // RFC 7162 §3.1.9: STATUS HIGHESTMODSEQ is a CONDSTORE-enabling command.
    if (items.includes('HIGHESTMODSEQ')) enableCondstore(session);
    const values: Record<string, number> = {
      MESSAGES: counts.messages,
      UIDNEXT: mb.uidNext,
      UIDVALIDITY: mb.uidValidity,
      UNSEEN: counts.unseen,
      DELETED: counts.deleted,
      SIZE: counts.size,
      RECENT: counts.recent,
      HIGHESTMODSEQ: mb.highestModSeq,
    };
    const body = [...new Set(items)].map((i) => `${i} ${values[i]}`).join(' ');
    session.untagged(Buffer.concat([Buffer.from('STATUS '), mailboxWire(session, mb.name), Buffer.from(` (${body})`)]));
  },
});
