/**
 * Commands valid in both AUTHORIZATION and TRANSACTION states: CAPA
 * (RFC 2449 §5) and QUIT (RFC 1939 §5, §6), which in TRANSACTION state enters
 * the UPDATE state and removes the messages marked deleted.
 */
import { failure } from '../errors.js';
import { bodyLines } from '../wire/response.js';
import { command, noArgs } from './spec.js';

/** RFC 2449 §5 — CAPA. */
export const capa = command({
  name: 'CAPA',
  states: ['authorization', 'transaction'],
  parse: noArgs('CAPA'),
  async run(session) {
    session.beginMultiline('Capability list follows');
    session.write(bodyLines(session.capabilities()));
    session.endMultiline();
  },
});

/** RFC 1939 §5 and §6 — QUIT. The connection closes after the answer, whatever it is. */
export const quit = command({
  name: 'QUIT',
  states: ['authorization', 'transaction'],
  parse: noArgs('QUIT'),
  async run(session) {
    const st = session.state;
    session.state = { kind: 'update' };
    if (st.kind !== 'transaction') {
      session.ok('Logging out');
      return;
    }
    let removed: number;
    try {
      removed = await st.maildrop.update();
    } catch (err) {
      session.log.error({ err }, 'POP3 update failed');
      throw failure('Some deleted messages were not removed', 'SYS/TEMP');
    }
    session.ok(removed === 0 ? 'Logging out' : `Logging out, ${removed} message${removed === 1 ? '' : 's'} deleted`);
  },
});
