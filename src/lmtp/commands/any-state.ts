/**
 * Commands valid at any point of a session: LHLO (RFC 2033 §4.1), RSET,
 * NOOP, QUIT, VRFY (RFC 5321 §4.1.1.5–§4.1.1.10), and the ESMTP greetings
 * LMTP does not have.
 */
import { lhloLines } from '../capabilities.js';
import { badSyntax, LmtpError } from '../errors.js';
import { resetTransaction } from './envelope.js';
import { ANY_STATE, command } from './spec.js';

/** Parses no arguments at all. */
function noArgs(args: string): void {
  if (args.trim() !== '') throw badSyntax('No arguments expected');
}

/** RFC 2033 §4.1 — LHLO: EHLO's semantics (it also resets any transaction, RFC 5321 §4.1.4). */
export const lhlo = command({
  name: 'LHLO',
  states: ANY_STATE,
  parse(args) {
    const domain = args.trim();
    if (domain === '' || /\s/.test(domain)) throw badSyntax('Usage: LHLO domain');
    return domain;
  },
  async run(session) {
    await resetTransaction(session);
    session.state = { kind: 'ready' };
    session.replyLines(250, lhloLines(session));
  },
});

/** RFC 2033 §4.1: "HELO and EHLO … are not present in LMTP"; 500 is recommended. */
function notLmtp(name: string) {
  return command({
    name,
    states: ANY_STATE,
    parse: () => undefined,
    async run() {
      throw new LmtpError(500, '5.5.1', `${name} is not LMTP; use LHLO`, true);
    },
  });
}

/** HELO refused (RFC 2033 §4.1). */
export const helo = notLmtp('HELO');
/** EHLO refused (RFC 2033 §4.1). */
export const ehlo = notLmtp('EHLO');

/** RFC 5321 §4.1.1.5 — RSET: abort the transaction, keep the session. */
export const rset = command({
  name: 'RSET',
  states: ANY_STATE,
  parse: noArgs,
  async run(session) {
    const greeted = session.state.kind !== 'connected';
    await resetTransaction(session);
    session.state = greeted ? { kind: 'ready' } : { kind: 'connected' };
    session.reply(250, '2.0.0', 'OK');
  },
});

/** RFC 5321 §4.1.1.9 — NOOP (an argument is allowed and ignored). */
export const noop = command({
  name: 'NOOP',
  states: ANY_STATE,
  parse: () => undefined,
  async run(session) {
    session.reply(250, '2.0.0', 'OK');
  },
});

/** RFC 5321 §4.1.1.6 — VRFY: 252, we neither confirm nor deny addresses (§3.5.3, §7.3). */
export const vrfy = command({
  name: 'VRFY',
  states: ANY_STATE,
  parse(args) {
    if (args.trim() === '') throw badSyntax('Usage: VRFY address');
  },
  async run(session) {
    session.reply(252, '2.5.2', 'Cannot VRFY user, but will accept message and attempt delivery');
  },
});

/** RFC 5321 §4.1.1.10 — QUIT. */
export const quit = command({
  name: 'QUIT',
  states: ANY_STATE,
  parse: noArgs,
  async run(session) {
    await resetTransaction(session);
    session.state = { kind: 'closing' };
    session.reply(221, '2.0.0', `${session.hostname} closing connection`);
  },
});
