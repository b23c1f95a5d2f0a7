/**
 * LIST (RFC 9051 §6.3.9) in its basic and extended forms — LIST-EXTENDED
 * (RFC 5258): selection options SUBSCRIBED, REMOTE, RECURSIVEMATCH and
 * SPECIAL-USE (RFC 6154 §2), several patterns, return options SUBSCRIBED,
 * CHILDREN, SPECIAL-USE, STATUS (RFC 5819) and METADATA (RFC 9590) — and the
 * IMAP4rev1 LSUB (RFC 3501 §6.3.9).
 *
 * Child and special-use attributes are always sent (RFC 5258 §4 and RFC 6154
 * §2 allow it), so the CHILDREN and SPECIAL-USE return options change nothing.
 * There are no remote mailboxes, so REMOTE changes nothing either.
 */
import type { Mailbox } from '../../store/types.js';
import { StoreError } from '../../store/types.js';
import { ancestors } from '../../mail/mailbox-name.js';
import { decodeMailboxArg } from '../mailbox-name.js';
import { ListPatterns } from '../list-pattern.js';
import type { ImapSession } from '../session/session.js';
import { ParseError, type ArgReader } from '../wire/reader.js';
import { listLine } from '../responses.js';
import { accountOf, readStatusItems, statusResponse } from './mailboxes.js';
import { metadataResponse, readEntry } from './metadata.js';
import { command, type Invocation } from './spec.js';

const AUTHED = ['authenticated', 'selected'] as const;
/**
 * Bounds on one LIST: the matcher costs names × patterns × name length ×
 * (reference + pattern) length, so the reference is bounded like a pattern
 * (issue 18, finding 5; list-pattern.ts bounds the total).
 */
const MAX_PATTERNS = 32;
const MAX_PATTERN_BYTES = 1024;
/** A long listing waits for a slow reader every so many mailboxes (RFC 5819 §5). */
const FLUSH_EVERY = 256;

interface ListArgs {
  /** The extended syntax was used (RFC 9051 §6.3.9): "" is no special pattern, \NonExistent is understood. */
  extended: boolean;
  reference: string;
  patterns: string[];
  /** Selection options (RFC 5258 §3.1, RFC 6154 §2). */
  selectSubscribed: boolean;
  selectSpecialUse: boolean;
  recursiveMatch: boolean;
  /** Return options (RFC 5258 §3.2, RFC 5819 §2, RFC 9590 §3). */
  returnSubscribed: boolean;
  status: string[] | null;
  metadata: string[] | null;
}

function readPattern(r: ArgReader, utf8: boolean): string {
  const arg = r.listMailbox();
  if (arg.bytes.length > MAX_PATTERN_BYTES) throw new ParseError('Pattern too long');
  return arg.bytes.length === 0 ? '' : decodeMailboxArg(arg, utf8);
}

/** The reference name (RFC 9051 §6.3.9), no longer than a pattern. */
function readReference(r: ArgReader, utf8: boolean): string {
  const arg = r.astring();
  if (arg.bytes.length > MAX_PATTERN_BYTES) throw new ParseError('Reference name too long');
  return decodeMailboxArg(arg, utf8);
}

/** RFC 5258 §3: an option given twice counts once. */
const union = (a: string[] | null, b: readonly string[]): string[] => [...new Set([...(a ?? []), ...b])];

/** `list-select-opts` (RFC 5258 §6, RFC 6154 §6). */
function parseSelection(r: ArgReader, args: ListArgs): void {
  r.list(() => {
    const option = r.atom().toUpperCase();
    if (option === 'SUBSCRIBED') args.selectSubscribed = true;
    else if (option === 'SPECIAL-USE') args.selectSpecialUse = true;
    else if (option === 'RECURSIVEMATCH') args.recursiveMatch = true;
    else if (option !== 'REMOTE') throw new ParseError(`Unknown LIST selection option ${option}`);
  });
  // RFC 5258 §3.1: RECURSIVEMATCH alone (or with REMOTE only) is BAD.
  if (args.recursiveMatch && !args.selectSubscribed && !args.selectSpecialUse) {
    throw new ParseError('RECURSIVEMATCH needs another selection option');
  }
}

/** `list-return-opts` (RFC 5258 §6, RFC 5819 §4, RFC 6154 §6, RFC 9590 §5). */
function parseReturn(r: ArgReader, args: ListArgs): void {
  r.list(() => {
    const option = r.atom().toUpperCase();
    if (option === 'SUBSCRIBED') {
      args.returnSubscribed = true;
    } else if (option === 'STATUS') {
      r.sp();
      args.status = union(args.status, readStatusItems(r));
    } else if (option === 'METADATA') {
      r.sp();
      args.metadata = union(
        args.metadata,
        r.list(() => readEntry(r, 'get'), false),
      );
    } else if (option !== 'CHILDREN' && option !== 'SPECIAL-USE') {
      throw new ParseError(`Unknown LIST return option ${option}`);
    }
  });
}

/** `list` (RFC 5258 §6): `LIST [SP select-opts] SP mailbox SP (pattern / "(" patterns ")") [SP RETURN (...)]`. */
function parseList(r: ArgReader, inv: Invocation): ListArgs {
  const utf8 = inv.session.encodeMode.utf8;
  const args: ListArgs = {
    extended: false,
    reference: '',
    patterns: [],
    selectSubscribed: false,
    selectSpecialUse: false,
    recursiveMatch: false,
    returnSubscribed: false,
    status: null,
    metadata: null,
  };
  r.sp();
  if (r.peekByte() === 0x28) {
    args.extended = true;
    parseSelection(r, args);
    r.sp();
  }
  args.reference = readReference(r, utf8);
  r.sp();
  if (r.peekByte() === 0x28) {
    args.extended = true;
    args.patterns = r.list(() => readPattern(r, utf8), false);
    if (args.patterns.length > MAX_PATTERNS) throw new ParseError('Too many patterns');
  } else {
    args.patterns = [readPattern(r, utf8)];
  }
  if (!r.atEnd()) {
    r.sp();
    if (r.atom().toUpperCase() !== 'RETURN') throw new ParseError('Expected RETURN');
    r.sp();
    args.extended = true;
    parseReturn(r, args);
  }
  return args;
}

/** A name in the hierarchy, real or only implied by an inferior. */
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

/** A name to report. */
interface Row {
  name: string;
  mailbox: Mailbox | null;
  hasChildren: boolean;
  /** Meets the selection criteria itself; otherwise it is listed only for its CHILDINFO. */
  meets: boolean;
  /** RFC 5258 §3.5: a descendant meets the selection criteria. */
  childInfo: boolean;
}

/**
 * The names to report, sorted (RFC 5258 §3.3 principle 2): those matching the
 * patterns and the selection criteria and, with RECURSIVEMATCH, matching
 * names that do not meet the criteria but have a descendant that does and
 * that the patterns miss (§3.5: redundant CHILDINFO-only responses are left out).
 */
function selectRows(args: ListArgs, matched: ReadonlySet<string>, tree: Map<string, Node>, subscribed: ReadonlySet<string>): Row[] {
  const match = (name: string): boolean => matched.has(name);
  const meets = (name: string): boolean =>
    (args.selectSubscribed ? subscribed.has(name) : tree.has(name)) && (!args.selectSpecialUse || !!tree.get(name)?.mailbox?.specialUse);
  const names = new Set(tree.keys());
  // RFC 5258 §3.1: SUBSCRIBED lists subscribed names whether they exist or not.
  if (args.selectSubscribed) for (const name of subscribed) names.add(name);
  const meeting = [...names].filter(meets);
  const withChildInfo = new Set<string>();
  const reachingOut = new Set<string>();
  if (args.recursiveMatch) {
    for (const name of meeting) {
      const outside = !match(name);
      for (const parent of ancestors(name)) {
        withChildInfo.add(parent);
        if (outside) reachingOut.add(parent);
      }
    }
  }
  const row = (name: string, meetsCriteria: boolean): Row => {
    const node = tree.get(name);
    return { name, mailbox: node?.mailbox ?? null, hasChildren: node?.hasChildren ?? false, meets: meetsCriteria, childInfo: withChildInfo.has(name) };
  };
  const rows = meeting.filter(match).map((name) => row(name, true));
  for (const name of reachingOut) if (!meets(name) && match(name)) rows.push(row(name, false));
  return rows.sort((a, b) => byName(a.name, b.name));
}

/**
 * One LIST response, followed by its STATUS (RFC 5819 §2) and METADATA (RFC
 * 9590 §3) responses for a mailbox meeting the criteria. Those are looked up
 * first: a mailbox deleted meanwhile is then listed as \NonExistent, alone.
 */
async function respond(session: ImapSession, args: ListArgs, row: Row, subscribed: ReadonlySet<string> | null): Promise<void> {
  let mailbox = row.mailbox;
  const extra: Buffer[] = [];
  if (mailbox && row.meets) {
    try {
      if (args.status) extra.push(await statusResponse(session, mailbox, args.status));
      if (args.metadata) extra.push(await metadataResponse(session, mailbox, args.metadata));
    } catch (e) {
      if (!(e instanceof StoreError && e.code === 'NONEXISTENT')) throw e;
      mailbox = null;
      extra.length = 0;
    }
  }
  const attrs: string[] = [];
  if (!mailbox) attrs.push(args.extended || session.rev2 ? '\\NonExistent' : '\\Noselect');
  attrs.push(row.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
  if (subscribed?.has(row.name)) attrs.push('\\Subscribed');
  if (mailbox?.specialUse) attrs.push(mailbox.specialUse);
  // RFC 5258 §6: `("CHILDINFO" ("SUBSCRIBED"))`, naming the criteria the descendant meets.
  const criteria = [args.selectSubscribed ? '"SUBSCRIBED"' : '', args.selectSpecialUse ? '"SPECIAL-USE"' : ''].filter((c) => c !== '');
  const childInfo = row.childInfo ? ` ("CHILDINFO" (${criteria.join(' ')}))` : '';
  listLine(session, 'LIST', attrs, row.name, childInfo);
  for (const line of extra) session.untagged(line);
}

/** RFC 9051 §6.3.9 — LIST, basic and extended. */
export const list = command({
  name: 'LIST',
  states: AUTHED,
  parse: parseList,
  async run(inv, args) {
    const session = inv.session;
    if (!args.extended && args.patterns[0] === '') {
      // The basic syntax's request for the hierarchy delimiter and root name.
      listLine(session, 'LIST', ['\\Noselect'], '');
      return;
    }
    // RFC 5258 §3: the extended syntax ignores empty patterns.
    const patterns = args.patterns.filter((p) => p !== '');
    if (patterns.length === 0) return;
    const account = accountOf(session);
    const tree = buildTree(await session.store.listMailboxes(account));
    const subscribed = args.selectSubscribed || args.returnSubscribed ? new Set(await session.store.listSubscriptions(account)) : null;
    const subs = subscribed ?? new Set<string>();
    const matched = await new ListPatterns(args.reference, patterns).matching(candidates(tree, subs));
    const rows = selectRows(args, matched, tree, subs);
    for (let i = 0; i < rows.length; i++) {
      await respond(session, args, rows[i]!, subscribed);
      if ((i + 1) % FLUSH_EVERY === 0) await session.backpressure();
    }
  },
});

/** RFC 3501 §6.3.9 — LSUB (IMAP4rev1 only; removed in rev2). */
export const lsub = command({
  name: 'LSUB',
  states: AUTHED,
  parse(r, inv) {
    const utf8 = inv.session.encodeMode.utf8;
    r.sp();
    const reference = readReference(r, utf8);
    r.sp();
    return { reference, pattern: readPattern(r, utf8) };
  },
  async run(inv, { reference, pattern }) {
    const session = inv.session;
    const account = accountOf(session);
    const subscribed = new Set(await session.store.listSubscriptions(account));
    const existing = new Set((await session.store.listMailboxes(account)).map((m) => m.name));
    const matched = await new ListPatterns(reference, [pattern]).matching(withAncestors(subscribed));
    const match = (name: string): boolean => matched.has(name);
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

/** Every name LIST may test: the hierarchy's and the subscribed ones, with their parents. */
function candidates(tree: ReadonlyMap<string, Node>, subscribed: ReadonlySet<string>): Set<string> {
  const names = withAncestors(subscribed);
  for (const name of tree.keys()) names.add(name);
  return names;
}

/** The names and all their parents. */
function withAncestors(names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const name of names) {
    out.add(name);
    for (const parent of ancestors(name)) out.add(parent);
  }
  return out;
}

/** INBOX first, then by code unit. */
function byName(a: string, b: string): number {
  if (a === 'INBOX') return -1;
  if (b === 'INBOX') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
