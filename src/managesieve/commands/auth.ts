/**
 * The non-authenticated state (RFC 5804 §2.1 AUTHENTICATE, §2.2 STARTTLS)
 * and its way back (§2.14.1 UNAUTHENTICATE). AUTHENTICATE runs the password
 * mechanisms of auth/sasl.ts and, with [oauth], the bearer tokens of
 * auth/oauth/, through the same throttled login checks as IMAP and POP3.
 * Cleartext passwords only over TLS or from trusted networks (§2.1.1).
 */
import { checkLogin, type LoginResult } from '../../auth/login.js';
import { isOAuthMechanism } from '../../auth/oauth/sasl-oauth.js';
import { runTokenSasl, TOKEN_CREDENTIAL } from '../../auth/oauth/token-login.js';
import { isPasswordMechanism, runPasswordSasl, SaslFailure } from '../../auth/sasl.js';
import { badCommand, failure } from '../errors.js';
import type { SieveSession } from '../session/session.js';
import { command, count, textArg } from './spec.js';

/** Enters the authenticated state after a successful check, or fails with the reason a client may be told. */
async function enter(session: SieveSession, res: LoginResult, credential?: string): Promise<void> {
  if (!res.ok) {
    if (res.reason === 'disabled') throw failure('This account is disabled; contact the administrator');
    // RFC 5804 §1.3 TRYLATER: a temporary failure; the credential was not checked.
    if (res.reason === 'throttled') throw failure('Too many failed logins; try again later', 'TRYLATER');
    if (res.reason === 'busy') throw failure('Too many logins in progress; try again later', 'TRYLATER');
    if (res.reason === 'unavailable') throw failure('The token cannot be checked now; try again later', 'TRYLATER');
    throw failure('Authentication failed');
  }
  session.login(res.account, credential);
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
    const oauth = isOAuthMechanism(mechanism) ? session.oauth : null;
    if (!isPasswordMechanism(mechanism) && oauth === null) throw failure(`Unsupported authentication mechanism ${mechanism.slice(0, 20)}`);
    // RFC 5804 §2.1.1: PLAIN (and any cleartext) only under TLS unless configured otherwise.
    if (session.loginDisabled) throw failure('Plaintext authentication is disallowed on non-secure connections; use STARTTLS', 'ENCRYPT-NEEDED');
    const ask = (challenge: string): Promise<string | null> => session.continuation(challenge);
    let result;
    try {
      result = oauth
        ? await runTokenSasl(session, oauth, mechanism, initial, ask, session.remoteAddress, 'managesieve')
        : await runPasswordSasl(mechanism, initial, ask);
    } catch (err) {
      if (err instanceof SaslFailure) throw failure(err.message);
      throw err;
    }
    if (result === null) return;
    if (result === 'cancelled') throw failure('Authentication cancelled');
    if ('ok' in result) return enter(session, result, TOKEN_CREDENTIAL);
    // RFC 4616 §2: an authorization identity other than the user's own would be proxy authorization.
    if (result.authz !== '' && result.authz !== result.user) throw failure('Proxy authorization is not supported', 'AUTH-TOO-WEAK');
    await enter(session, await checkLogin(session, session.remoteAddress, result.user, result.password, 'managesieve'));
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
