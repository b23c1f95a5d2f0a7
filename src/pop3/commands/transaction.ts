/**
 * TRANSACTION state commands on the maildrop snapshot (RFC 1939 §5, §7):
 * STAT, LIST, UIDL, DELE, RSET, NOOP. Deleted messages keep their numbers
 * but are hidden from every listing; nothing is removed before QUIT.
 */
import type { Pop3Session } from '../session/session.js';
import type { DropMessage, Maildrop } from '../session/maildrop.js';
import { bodyLines } from '../wire/response.js';
import { command, noArgs, oneMessage, optionalMessage } from './spec.js';

/** Listing lines written per batch, so a big maildrop streams with backpressure. */
const LINES_PER_BATCH = 1000;

/** The session's maildrop; the command's states guarantee TRANSACTION. */
export function maildropOf(session: Pop3Session): Maildrop {
  if (session.state.kind !== 'transaction') throw new Error('maildrop used outside the TRANSACTION state');
  return session.state.maildrop;
}

const sum = (list: readonly DropMessage[]): number => list.reduce((t, m) => t + m.octets!, 0);
const messages = (n: number): string => `${n} message${n === 1 ? '' : 's'}`;

/** Writes "+OK", one line per message and "." with backpressure (LIST and UIDL without argument). */
async function listing(session: Pop3Session, head: string, list: readonly DropMessage[], line: (m: DropMessage) => string): Promise<void> {
  session.beginMultiline(head);
  for (let i = 0; i < list.length && !session.closed; i += LINES_PER_BATCH) {
    session.write(bodyLines(list.slice(i, i + LINES_PER_BATCH).map(line)));
    if (session.congested) await session.flush();
  }
  session.endMultiline();
}

/** RFC 1939 §5 — STAT: "+OK count octets" of the messages not marked deleted. */
export const stat = command({
  name: 'STAT',
  states: ['transaction'],
  parse: noArgs('STAT'),
  async run(session) {
    const drop = maildropOf(session);
    const live = drop.live();
    await drop.size(live);
    session.ok(`${live.length} ${sum(live)}`);
  },
});

/** RFC 1939 §5 — LIST [msg]: scan listings "n octets". */
export const list = command({
  name: 'LIST',
  states: ['transaction'],
  parse: optionalMessage('LIST'),
  async run(session, n) {
    const drop = maildropOf(session);
    if (n !== null) {
      const m = drop.message(n);
      await drop.size([m]);
      session.ok(`${n} ${m.octets}`);
      return;
    }
    const live = drop.live();
    await drop.size(live);
    await listing(session, `${messages(live.length)} (${sum(live)} octets)`, live, (m) => `${m.n} ${m.octets}`);
  },
});

/** RFC 1939 §7 — UIDL [msg]: unique-id listings "n unique-id". */
export const uidl = command({
  name: 'UIDL',
  states: ['transaction'],
  parse: optionalMessage('UIDL'),
  async run(session, n) {
    const drop = maildropOf(session);
    if (n !== null) {
      session.ok(`${n} ${drop.uniqueId(drop.message(n))}`);
      return;
    }
    await listing(session, 'Unique-ID listing follows', drop.live(), (m) => `${m.n} ${drop.uniqueId(m)}`);
  },
});

/** RFC 1939 §5 — DELE msg: marks the message; QUIT removes it. */
export const dele = command({
  name: 'DELE',
  states: ['transaction'],
  parse: oneMessage('DELE'),
  async run(session, n) {
    const drop = maildropOf(session);
    drop.delete(drop.message(n));
    session.ok(`Message ${n} deleted`);
  },
});

/** RFC 1939 §5 — RSET: unmarks every message marked deleted. */
export const rset = command({
  name: 'RSET',
  states: ['transaction'],
  parse: noArgs('RSET'),
  async run(session) {
    const drop = maildropOf(session);
    drop.reset();
    session.ok(`Maildrop has ${messages(drop.count)}`);
  },
});

/** RFC 1939 §5 — NOOP. */
export const noop = command({
  name: 'NOOP',
  states: ['transaction'],
  parse: noArgs('NOOP'),
  async run(session) {
    session.ok('');
  },
});
