/**
 * The non-authenticated state (RFC 5804 §2.1 AUTHENTICATE, §2.2 STARTTLS)
 * and its way back (§2.14.1 UNAUTHENTICATE). AUTHENTICATE runs the same SASL
 * logins as IMAP and POP3 (auth/sasl-login.ts: SCRAM, PLAIN, LOGIN and, with
 * [oauth], bearer tokens) through the same throttled checks. Cleartext
 * passwords only over TLS or from trusted networks (§2.1.1).
 */
import { type SaslLoginResult, saslLogin } from '../../auth/sasl-login.js';
import { SaslFailure } from '../../auth/sasl.js';
import { badCommand, failure } from '../errors.js';
import type { SieveSession } from '../session/session.js';
import { command, count, textArg } from './spec.js';

/** Enters the authenticated state after a successful check, or fails with the reason a client may be told. */
async function enter(session: SieveSession, res: SaslLoginResult, mechanism: string): Promise<void> {
  if (!res.ok) {
    switch (res.reason) {
      case 'disabled':
        throw failure('This account is disabled; contact the administrator');
      case 'app-password-required':
        throw failure('This account requires an app password');
      // RFC 5804 §1.3 TRYLATER: a temporary failure; the credential was not checked.
      case 'throttled':
        throw failure('Too many failed logins; try again later', 'TRYLATER');
      case 'busy':
        throw failure('Too many logins in progress; try again later', 'TRYLATER');
      case 'unavailable':
        throw failure('The token cannot be checked now; try again later', 'TRYLATER');
      // RFC 5804 §2.1.1: cleartext mechanisms need TLS here.
      case 'privacy':
        throw failure('Plaintext authentication is disallowed on non-secure connections; use STARTTLS', 'ENCRYPT-NEEDED');
      // RFC 4616 §2: an authorization identity other than the user's own would be proxy authorization.
      case 'proxy':
        throw failure('Proxy authorization is not supported', 'AUTH-TOO-WEAK');
      case 'unsupported':
        throw failure(`Unsupported authentication mechanism ${mechanism.slice(0, 20)}`);
      case 'cancelled':
        throw failure('Authentication cancelled');
      // The connection is gone: nothing to answer.
      case 'closed':
        return;
      case 'refused':
        throw failure(res.text);
      case 'failed':
        throw failure('Authentication failed');
    }
  }
  session.login(res.account, res.credential);
  session.ok('Logged in');
}

/** RFC 5804 §2.2 — STARTTLS: OK, the handshake, then the capabilities again. */
export const starttls = command({
  name: 'STARTTLS',
  states: ['nonauth'],
  parse: (args) => count(args, 0, 0, 'STARTTLS'),
  async run(session) {
    if (session.secure) throw badCommand('TLS is already active');
    session.ok('Begin TLS negotiation now');
    await session.startTls();
  },
});

/** RFC 5804 §2.1 — AUTHENTICATE "mechanism" [initial-response]; the client's "*" cancels. */
export const authenticate = command({
  name: 'AUTHENTICATE',
  states: ['nonauth'],
  secret: true,
  parse(args) {
    count(args, 1, 2, 'AUTHENTICATE "mechanism" [initial-response]');
    const mechanism = textArg(args[0], 'the mechanism').toUpperCase();
    // RFC 5804 §2.1: an empty initial response is an empty string (SASL-IR), not "=".
    const initial = args.length === 2 ? textArg(args[1], 'the initial response') : null;
    return { mechanism, initial: initial === '' ? '=' : initial };
  },
  async run(session, { mechanism, initial }) {
    let result: SaslLoginResult;
    try {
      result = await saslLogin(session, mechanism, initial, (challenge) => session.continuation(challenge), 'managesieve');
    } catch (err) {
      if (err instanceof SaslFailure) throw failure(err.message);
      throw err;
    }
    await enter(session, result, mechanism);
  },
});

/** RFC 5804 §2.14.1 — UNAUTHENTICATE: back to the non-authenticated state (TLS stays). */
export const unauthenticate = command({
  name: 'UNAUTHENTICATE',
  states: ['auth'],
  parse: (args) => count(args, 0, 0, 'UNAUTHENTICATE'),
  async run(session) {
    session.logout();
    session.ok('Logged out');
  },
});
