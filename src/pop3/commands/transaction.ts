/**
 * TRANSACTION state commands on the maildrop snapshot (RFC 1939 §5, §7):
 * STAT, LIST, UIDL, DELE, RSET, NOOP. Deleted messages keep their numbers
 * but are hidden from every listing; nothing is removed before QUIT.
 */
import type { Pop3Session } from '../session/session.js';
import type { DropMessage, Maildrop } from '../session/maildrop.js';
import { bodyLines } from '../wire/response.js';
import { type CommandSpec, command, noArgs, oneMessage, optionalMessage } from './spec.js';

/** Listing lines written per batch, so a big maildrop streams with backpressure. */
const LINES_PER_BATCH = 1000;

/** The session's maildrop; the command's states guarantee TRANSACTION. */
function maildropOf(session: Pop3Session): Maildrop {
  if (session.state.kind !== 'transaction') throw new Error('maildrop used outside the TRANSACTION state');
  return session.state.maildrop;
}

/** A TRANSACTION-state command (RFC 1939 §5), run with the session's maildrop. */
export function transactionCommand<A>(spec: {
  name: string;
  parse(args: string): A;
  run(session: Pop3Session, drop: Maildrop, args: A): Promise<void>;
}): CommandSpec<A> {
  return { name: spec.name, states: ['transaction'], parse: spec.parse, run: (session, args) => spec.run(session, maildropOf(session), args) };
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
export const stat = transactionCommand({
  name: 'STAT',
  parse: noArgs('STAT'),
  async run(session, drop) {
    const live = drop.live();
    await drop.size(live);
    session.ok(`${live.length} ${sum(live)}`);
  },
});

/** RFC 1939 §5 — LIST [msg]: scan listings "n octets". */
export const list = transactionCommand({
  name: 'LIST',
  parse: optionalMessage('LIST'),
  async run(session, drop, n) {
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
export const uidl = transactionCommand({
  name: 'UIDL',
  parse: optionalMessage('UIDL'),
  async run(session, drop, n) {
    if (n !== null) {
      session.ok(`${n} ${drop.uniqueId(drop.message(n))}`);
      return;
    }
    await listing(session, 'Unique-ID listing follows', drop.live(), (m) => `${m.n} ${drop.uniqueId(m)}`);
  },
});

/** RFC 1939 §5 — DELE msg: marks the message; QUIT removes it. */
export const dele = transactionCommand({
  name: 'DELE',
  parse: oneMessage('DELE'),
  async run(session, drop, n) {
    drop.delete(drop.message(n));
    session.ok(`Message ${n} deleted`);
  },
});

/** RFC 1939 §5 — RSET: unmarks every message marked deleted. */
export const rset = transactionCommand({
  name: 'RSET',
  parse: noArgs('RSET'),
  async run(session, drop) {
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
