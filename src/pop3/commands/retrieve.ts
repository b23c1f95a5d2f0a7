/**
 * RETR and TOP (RFC 1939 §5, §7): a message streamed from the blob store
 * with backpressure, line ends made CRLF and lines byte-stuffed on the fly
 * (wire/message-encoder.ts). A complete RETR gives the message \Seen; TOP
 * does not.
 */
import type { DropMessage, Maildrop } from '../session/maildrop.js';
import type { Pop3Session } from '../session/session.js';
import { MessageEncoder } from '../wire/message-encoder.js';
import { number, oneMessage, words } from './spec.js';
import { transactionCommand } from './transaction.js';

/** Sends one message (or its top); returns the octets sent before stuffing, or null if the client went away. */
async function send(session: Pop3Session, drop: Maildrop, m: DropMessage, bodyLines: number | null): Promise<number | null> {
  const chunks = await drop.read(m);
  try {
    // The first read happens before "+OK", so a missing blob is still an -ERR, not a broken response.
    let next = await chunks.next();
    session.beginMultiline(bodyLines === null && m.octets !== null ? `${m.octets} octets` : 'Message follows');
    // A size equal to the stored one means CRLF line ends throughout (session/message-sizes.ts).
    const encoder = new MessageEncoder({ stuff: true, bodyLines, crlfClean: m.octets === m.storedSize });
    for (; !next.done; next = await chunks.next()) {
      for (const piece of encoder.push(next.value)) session.writeMessageData(piece);
      if (encoder.done || session.closed) break;
      if (session.congested) await session.flush();
    }
    for (const piece of encoder.end()) session.writeMessageData(piece);
    session.endMultiline();
    return session.closed ? null : encoder.octets;
  } finally {
    await chunks.return(undefined); // closes the file when TOP stops early
  }
}

/** RFC 1939 §5 — RETR msg. */
export const retr = transactionCommand({
  name: 'RETR',
  parse: oneMessage('RETR'),
  async run(session, drop, n) {
    const m = drop.message(n);
    const octets = await send(session, drop, m, null);
    if (octets !== null) drop.retrieved(m, octets);
  },
});

/** RFC 1939 §7 — TOP msg n: the header, the blank line and the first n body lines. */
export const top = transactionCommand({
  name: 'TOP',
  parse(args) {
    const [n, lines] = words(args, 2, 2, 'TOP message-number lines');
    return { n: number(n!, 'message number'), lines: number(lines!, 'line count') };
  },
  async run(session, drop, { n, lines }) {
    await send(session, drop, drop.message(n), lines);
  },
});
