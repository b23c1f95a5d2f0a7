/**
 * NOTIFY (RFC 5465 §3.1): NOTIFY SET [STATUS] (event-group)... replaces what
 * the session is told about; NOTIFY NONE stops it. The work is in
 * ../notify/notifier.ts; the tagged OK's sync step is the implicit NOOP
 * §3.1 asks for.
 */
import { no } from '../errors.js';
import { parseNotify, SUPPORTED_EVENTS } from '../notify/spec.js';
import type { FetchNew } from '../notify/control.js';
import type { ImapSession } from '../session/session.js';
import { fetch } from './fetch.js';
import { accountOf } from './mailboxes.js';
import { command } from './spec.js';

/** Fetch attributes that would set \Seen (§5.2: the client SHOULD NOT use them). */
function setsSeen(item: { kind: string; peek?: boolean }): boolean {
  return (item.kind === 'section' || item.kind === 'binary') && !item.peek;
}

/** MessageNew's FETCH (§5.2): UID FETCH of the new messages with the requested attributes, sent untagged. */
function fetchNew(session: ImapSession): FetchNew {
  return async (ranges, items) => {
    await fetch.run(
      { tag: '*', name: 'FETCH', uid: true, session },
      { set: { kind: 'ranges', ranges }, items: [...items], changedSince: null, vanished: false },
    );
  };
}

/** RFC 5465 §3.1 — NOTIFY. */
export const notify = command({
  name: 'NOTIFY',
  states: ['authenticated', 'selected'],
  parse: (r, inv) => parseNotify(r, inv.session.encodeMode.utf8),
  async run(inv, args) {
    const session = inv.session;
    if (args.kind === 'none') {
      session.notifier.clear();
      return;
    }
    // §3.1: unsupported events are refused with NO [BADEVENT (every supported event)].
    if (args.unsupported.length > 0) {
      throw no(`BADEVENT (${SUPPORTED_EVENTS.join(' ')})`, `Unsupported event ${args.unsupported[0]}`);
    }
    // A notification that marks messages \Seen as they arrive defeats the client's own reading state.
    if (args.request.selected?.fetch?.some(setsSeen)) {
      throw no('CLIENTBUG', 'MessageNew fetch attributes must not set \\Seen; use BODY.PEEK or BINARY.PEEK (RFC 5465 §5.2)');
    }
    await session.notifier.set(accountOf(session), args.request, fetchNew(session));
    return { text: 'NOTIFY completed' };
  },
});
