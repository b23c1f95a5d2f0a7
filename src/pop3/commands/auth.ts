/**
 * AUTHORIZATION state (RFC 1939 §4, §7): USER/PASS, AUTH with the password
 * mechanisms of auth/sasl.ts and, with [oauth], the bearer tokens of auth/oauth/ (RFC 5034) and STLS (RFC 2595 §4). Cleartext passwords are refused on an
 * unencrypted connection unless the configuration allows them; failed
 * attempts are throttled by the shared login check; passwords never reach a
 * log. APOP is not offered.
 */
import { checkLogin, type LoginResult } from '../../auth/login.js';
import { isOAuthMechanism } from '../../auth/oauth/sasl-oauth.js';
import { runTokenSasl, TOKEN_CREDENTIAL } from '../../auth/oauth/token-login.js';
import { isPasswordMechanism, runPasswordSasl, SaslFailure } from '../../auth/sasl.js';
import { saslMechanisms } from '../capabilities.js';
import { badCommand, failure } from '../errors.js';
import type { Pop3Session } from '../session/session.js';
import { bodyLines } from '../wire/response.js';
import { command, noArgs, words } from './spec.js';

const PRIVACY_REQUIRED = 'Plaintext authentication is disallowed on non-secure connections; use STLS or port 995';

/** Refuses cleartext passwords where the configuration does (RFC 5034 §4, RFC 8314 §3). */
function requirePrivacy(session: Pop3Session): void {
  // RFC 3206 §5: a policy violation is an [AUTH] problem.
  if (session.loginDisabled) throw failure(PRIVACY_REQUIRED, 'AUTH');
}

/** Checks the password and enters the TRANSACTION state, or fails with [AUTH] / [SYS/TEMP]. */
async function logIn(session: Pop3Session, user: string, password: string): Promise<void> {
  await enter(session, await checkLogin(session, session.remoteAddress, user, password, 'pop3'));
}

/** Enters the TRANSACTION state after a successful check (`credential`: how, for the live-session list), or fails with [AUTH] / [SYS/TEMP]. */
async function enter(session: Pop3Session, res: LoginResult, credential?: string): Promise<void> {
  if (!res.ok) {
    if (res.reason === 'disabled') throw failure('This account is disabled; contact the administrator', 'AUTH');
    if (res.reason === 'throttled') throw failure('Too many failed logins; try again later', 'SYS/TEMP');
    // RFC 3206 §4 SYS/TEMP: a temporary failure; the password was not checked.
    if (res.reason === 'busy') throw failure('Too many logins in progress; try again later', 'SYS/TEMP');
    if (res.reason === 'unavailable') throw failure('The token cannot be checked now; try again later', 'SYS/TEMP');
    throw failure('Authentication failed', 'AUTH');
  }
  await session.login(res.account, credential);
  session.ok('Logged in');
}

/** RFC 2595 §4 — STLS. */
export const stls = command({
  name: 'STLS',
  states: ['authorization'],
  parse: noArgs('STLS'),
  async run(session) {
    if (session.secure) throw badCommand('TLS is already active');
    session.ok('Begin TLS negotiation now');
    await session.startTls();
  },
});

/** RFC 1939 §7 — USER name. The answer never tells whether the account exists. */
export const user = command({
  name: 'USER',
  states: ['authorization'],
  parse: (args) => words(args, 1, 1, 'USER name')[0]!,
  async run(session, name) {
    requirePrivacy(session);
    if (session.state.kind !== 'authorization') return;
    session.state.user = name;
    session.ok('Send your password');
  },
});

/** RFC 1939 §7 — PASS string: the rest of the line, spaces included. */
export const pass = command({
  name: 'PASS',
  states: ['authorization'],
  secretAfterWords: 0,
  parse(args) {
    if (args === '') throw badCommand('Usage: PASS password');
    return args;
  },
  async run(session, password) {
    requirePrivacy(session);
    const st = session.state;
    if (st.kind !== 'authorization' || st.user === null) throw badCommand('Send USER first');
    const name = st.user;
    // RFC 1939 §7: after a failed PASS the client starts again with USER (or AUTH).
    st.user = null;
    await logIn(session, name, password);
  },
});

/** RFC 5034 §4 — AUTH mechanism [initial-response]; bare AUTH lists the mechanisms (RFC 1734 clients). */
export const auth = command({
  name: 'AUTH',
  states: ['authorization'],
  secretAfterWords: 1,
  secretResponses: true,
  parse(args) {
    const [mechanism, initial] = words(args, 0, 2, 'AUTH mechanism [initial-response]');
    return { mechanism: mechanism?.toUpperCase() ?? null, initial: initial ?? null };
  },
  async run(session, { mechanism, initial }) {
    if (mechanism === null) {
      session.beginMultiline('Supported mechanisms follow');
      if (!session.loginDisabled) session.write(bodyLines(saslMechanisms(session)));
      session.endMultiline();
      return;
    }
    const oauth = isOAuthMechanism(mechanism) ? session.oauth : null;
    if (!isPasswordMechanism(mechanism) && oauth === null) throw failure(`Unsupported authentication mechanism ${mechanism.slice(0, 20)}`);
    requirePrivacy(session);
    // RFC 5034 §4: without an initial response, PLAIN's empty challenge is "+ ".
    const ask = (challenge: string): Promise<string | null> => session.continuation(challenge);
    let result;
    try {
      result = oauth
        ? await runTokenSasl(session, oauth, mechanism, initial, ask, session.remoteAddress, 'pop3')
        : await runPasswordSasl(mechanism, initial, ask);
    } catch (err) {
      if (err instanceof SaslFailure) throw failure(err.message);
      throw err;
    }
    if (result === null) return;
    if (result === 'cancelled') throw failure('Authentication cancelled');
    if ('ok' in result) return enter(session, result, TOKEN_CREDENTIAL);
    // RFC 4616 §2: an authorization identity other than the user's own would be proxy authorization.
    if (result.authz !== '' && result.authz !== result.user) throw failure('Proxy authorization is not supported', 'AUTH');
    await logIn(session, result.user, result.password);
  },
});
