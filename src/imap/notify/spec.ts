/**
 * The NOTIFY command's arguments (RFC 5465 §3.1, §6, §8 ABNF): what a client
 * asks to hear about, parsed into a typed request. Everything the ABNF or
 * §5/§6.1 forbid is a ParseError (BAD); events this server does not know are
 * collected, so the command can answer NO [BADEVENT] (§3.1).
 */
import { canonicalName } from '../../store/shared/names.js';
import { parseFetchItems, type FetchItem } from '../fetch-items.js';
import { decodeMailboxArg } from '../mailbox-name.js';
import { ParseError, type ArgReader } from '../wire/reader.js';

/** Events about messages (RFC 5465 §5.1-§5.3); AnnotationChange is not supported (no message annotations). */
export type MessageEvent = 'MessageNew' | 'MessageExpunge' | 'FlagChange';
/** Every event this server can report. */
export type EventName = MessageEvent | 'MailboxName' | 'SubscriptionChange' | 'MailboxMetadataChange' | 'ServerMetadataChange';

const MESSAGE_EVENTS: readonly EventName[] = ['MessageNew', 'MessageExpunge', 'FlagChange'];
/** The events named in BADEVENT (§3.1: it MUST list all supported events), in the RFC's order. */
export const SUPPORTED_EVENTS: readonly EventName[] = [
  'MessageNew',
  'MessageExpunge',
  'FlagChange',
  'MailboxName',
  'SubscriptionChange',
  'MailboxMetadataChange',
  'ServerMetadataChange',
];
/** Names in one SUBTREE or MAILBOXES list; more is a client bug, not a use case. */
const MAX_FILTER_NAMES = 1000;
/** Events in one group (each known one at most once; the rest are errors anyway). */
const MAX_EVENTS = 32;
/** Event groups in one NOTIFY SET. */
const MAX_GROUPS = 100;

/** Which mailboxes an event group covers (RFC 5465 §6.2-§6.6). */
export type MailboxFilter = { kind: 'personal' } | { kind: 'subscribed' } | { kind: 'subtree'; names: string[] } | { kind: 'mailboxes'; names: string[] };

/** The SELECTED / SELECTED-DELAYED group (§6.1). */
export interface SelectedEvents {
  /** SELECTED-DELAYED: expunges wait for a command that allows them (§6.1.2). */
  delayed: boolean;
  events: ReadonlySet<MessageEvent>;
  /** MessageNew's fetch-att list, or null (§5.2). */
  fetch: FetchItem[] | null;
}

/** One event group for other mailboxes. */
export interface EventGroup {
  filter: MailboxFilter;
  events: ReadonlySet<EventName>;
}

/** What NOTIFY SET asks for. */
export interface NotifyRequest {
  /** The STATUS indicator: initial STATUS of every watched mailbox (§3.1). */
  status: boolean;
  /** Null when no SELECTED group was given, or it said NONE. */
  selected: SelectedEvents | null;
  groups: EventGroup[];
}

/** Parsed NOTIFY arguments; `unsupported` lists events to refuse with BADEVENT. */
export type NotifyArgs = { kind: 'none' } | { kind: 'set'; request: NotifyRequest; unsupported: string[] };

/** `notify = "NOTIFY" SP (notify-set / notify-none)` (§8). */
export function parseNotify(r: ArgReader, utf8: boolean): NotifyArgs {
  r.sp();
  const verb = r.atom().toUpperCase();
  if (verb === 'NONE') return { kind: 'none' };
  if (verb !== 'SET') throw new ParseError('Expected SET or NONE');
  r.sp();
  let status = false;
  if (r.peekByte() !== 0x28) {
    if (r.atom().toUpperCase() !== 'STATUS') throw new ParseError('Expected STATUS or an event group');
    status = true;
    r.sp();
  }
  const request: NotifyRequest = { status, selected: null, groups: [] };
  const unsupported: string[] = [];
  let sawSelected = false;
  for (let n = 0; ; n++) {
    if (n >= MAX_GROUPS) throw new ParseError('Too many event groups');
    r.expect('(');
    const word = r.atom().toUpperCase();
    if (word === 'SELECTED' || word === 'SELECTED-DELAYED') {
      // §6.1: only one of them per command.
      if (sawSelected) throw new ParseError('SELECTED or SELECTED-DELAYED may appear only once');
      sawSelected = true;
      r.sp();
      const parsed = readEvents(r, true, unsupported);
      const events = new Set([...parsed.events].filter(isMessageEvent));
      if (events.size !== parsed.events.size) throw new ParseError('Only message events apply to SELECTED (RFC 5465 §6.1)');
      if (events.size > 0) request.selected = { delayed: word === 'SELECTED-DELAYED', events, fetch: parsed.fetch };
    } else {
      const filter = readFilter(r, word, utf8);
      r.sp();
      request.groups.push({ filter, events: readEvents(r, false, unsupported).events });
    }
    r.expect(')');
    if (r.atEnd()) break;
    r.sp();
  }
  return { kind: 'set', request, unsupported };
}

function isMessageEvent(e: EventName): e is MessageEvent {
  return MESSAGE_EVENTS.includes(e);
}

/** `filter-mailboxes-other` after its keyword. */
function readFilter(r: ArgReader, word: string, utf8: boolean): MailboxFilter {
  switch (word) {
    // §6.3: INBOXES may be treated as PERSONAL when the server cannot tell delivery targets apart.
    case 'INBOXES':
    case 'PERSONAL':
      return { kind: 'personal' };
    case 'SUBSCRIBED':
      return { kind: 'subscribed' };
    case 'SUBTREE':
    case 'MAILBOXES': {
      r.sp();
      // `one-or-more-mailbox`; §6.6: no wildcard expansion, names are plain names.
      const one = (): string => canonicalName(decodeMailboxArg(r.astring(), utf8));
      const names = r.peekByte() === 0x28 ? r.list(one, false) : [one()];
      if (names.length > MAX_FILTER_NAMES) throw new ParseError('Too many mailbox names');
      return { kind: word === 'SUBTREE' ? 'subtree' : 'mailboxes', names };
    }
    default:
      throw new ParseError(`Unknown mailbox filter ${word}`);
  }
}

/** `events = ( "(" event *(SP event) ")" ) / "NONE"`, with the §5 pairing rules. */
function readEvents(r: ArgReader, selected: boolean, unsupported: string[]): { events: Set<EventName>; fetch: FetchItem[] | null } {
  const events = new Set<EventName>();
  let fetch: FetchItem[] | null = null;
  if (r.peekByte() !== 0x28) {
    if (r.atom().toUpperCase() !== 'NONE') throw new ParseError('Expected an event list or NONE');
    return { events, fetch };
  }
  // Read by hand: after "MessageNew SP" comes either its fetch-att list or the next event.
  r.expect('(');
  for (let n = 0; ; n++) {
    if (n >= MAX_EVENTS) throw new ParseError('Too many events');
    const word = r.atom();
    const known = SUPPORTED_EVENTS.find((e) => e.toLowerCase() === word.toLowerCase());
    if (known) events.add(known);
    else unsupported.push(word);
    if (r.skip(')')) break;
    r.sp();
    if (known === 'MessageNew' && r.peekByte() === 0x28) {
      // §8: "The fetch-att list may only be present for the SELECTED/SELECTED-DELAYED mailbox filter".
      if (!selected) throw new ParseError('MessageNew fetch attributes are only allowed with SELECTED');
      fetch = parseFetchItems(r);
      if (r.skip(')')) break;
      r.sp();
    }
  }
  // §5: MessageNew and MessageExpunge together, and both with FlagChange (or AnnotationChange).
  const hasNew = events.has('MessageNew');
  if (hasNew !== events.has('MessageExpunge')) throw new ParseError('MessageNew and MessageExpunge must be given together (RFC 5465 §5)');
  if (events.has('FlagChange') && !hasNew) throw new ParseError('FlagChange needs MessageNew and MessageExpunge (RFC 5465 §5)');
  return { events, fetch };
}
