/**
 * Commands valid in every state (RFC 5804 §2.3 LOGOUT, §2.4 CAPABILITY, §2.13 NOOP).
 */
import { command, count, stringArg } from './spec.js';

/** RFC 5804 §2.4 — CAPABILITY: the list, then OK. */
export const capability = command({
  name: 'CAPABILITY',
  states: ['nonauth', 'auth'],
  parse: (args) => count(args, 0, 0, 'CAPABILITY'),
  async run(session) {
    session.writeCapabilities();
    session.ok('');
  },
});

/** RFC 5804 §2.3 — LOGOUT: OK, then nothing more is read. */
export const logout = command({
  name: 'LOGOUT',
  states: ['nonauth', 'auth'],
  parse: (args) => count(args, 0, 0, 'LOGOUT'),
  async run(session) {
    session.ok('Logout completed');
    session.state = { kind: 'logout' };
  },
});

/** RFC 5804 §2.13 — NOOP [tag]: the tag comes back in a TAG response code. */
export const noop = command({
  name: 'NOOP',
  states: ['nonauth', 'auth'],
  parse(args) {
    count(args, 0, 1, 'NOOP [tag]');
    return args.length === 0 ? null : stringArg(args[0], 'the tag');
  },
  async run(session, tag) {
    if (tag === null) session.ok('Done');
    else session.ok('Done', 'TAG', tag);
  },
});
