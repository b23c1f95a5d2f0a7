/**
 * Not-authenticated state (RFC 9051 §6.2): STARTTLS, AUTHENTICATE (PLAIN,
 * LOGIN, and with [oauth] OAUTHBEARER and XOAUTH2; SASL-IR, RFC 4959) and LOGIN. Failed attempts are throttled per
 * client address and per account; passwords never reach a log.
 */
import { checkLogin, type LoginResult } from '../../auth/login.js';
import { isOAuthMechanism } from '../../auth/oauth/sasl-oauth.js';
import { runTokenSasl, TOKEN_CREDENTIAL } from '../../auth/oauth/token-login.js';
import { isPasswordMechanism, runPasswordSasl, SaslFailure } from '../../auth/sasl.js';
import type { Account } from '../../store/types.js';
import { bad, ImapError, no } from '../errors.js';
import type { ImapSession } from '../session/session.js';
import { command } from './spec.js';

/** RFC 9051 §6.2.1 — STARTTLS. */
export const starttls = command({
  name: 'STARTTLS',
  states: ['not-authenticated'],
  sync: 'none',
  parse: () => undefined,
  async run(inv) {
    if (inv.session.secure) throw bad('TLS is already active');
    // The tagged OK must precede the handshake: send it here, then switch.
    inv.session.write(Buffer.from(`${inv.tag} OK Begin TLS negotiation now\r\n`));
    await inv.session.startTls();
    return { answered: true };
  },
});

/** RFC 5530 §3: cleartext passwords need TLS here (LOGINDISABLED is advertised). */
const privacyRequired = (): ImapError => no('PRIVACYREQUIRED', 'Plaintext authentication is disabled on unencrypted connections; use STARTTLS or port 993');

/** Runs one password attempt; resolves to the account or throws NO. */
async function authenticate(session: ImapSession, user: string, password: string): Promise<Account> {
  if (session.loginDisabled) throw privacyRequired();
  return loggedIn(await checkLogin(session, session.remoteAddress, user, password, 'imap'));
}

/** The account of a successful check, or the NO that says why not. */
function loggedIn(res: LoginResult): Account {
  if (res.ok) return res.account;
  // RFC 5530 §3: the user should contact the administrator; the credentials were right.
  if (res.reason === 'disabled') throw no('CONTACTADMIN', 'This account is disabled');
  if (res.reason === 'throttled') throw no('UNAVAILABLE', 'Too many failed logins; try again later');
  // RFC 5530 §3 UNAVAILABLE: a temporary failure; the password was not checked.
  if (res.reason === 'busy') throw no('UNAVAILABLE', 'Too many logins in progress; try again later');
  if (res.reason === 'unavailable') throw no('UNAVAILABLE', 'The token cannot be checked now; try again later');
  throw no('AUTHENTICATIONFAILED', 'Authentication failed');
}

function finish(session: ImapSession, account: Account, credential?: string): { code: string; text: string } {
  session.authenticated(account, credential);
  return { code: `CAPABILITY ${session.capabilities().join(' ')}`, text: 'Logged in' };
}

/** RFC 9051 §6.2.3 — LOGIN. */
export const login = command({
  name: 'LOGIN',
  states: ['not-authenticated'],
  // The user name, then the password (RFC 9051 §6.2.3).
  secretAfter(r) {
    r.sp();
    r.astring();
  },
  parse(r) {
    r.sp();
    const user = r.astring().bytes.toString('utf8');
    r.sp();
    const password = r.astring().bytes.toString('utf8');
    return { user, password };
  },
  async run(inv, { user, password }) {
    return finish(inv.session, await authenticate(inv.session, user, password));
  },
});

/** RFC 9051 §6.2.2 — AUTHENTICATE with the password mechanisms (auth/sasl.ts), bearer tokens (auth/oauth/) and SASL-IR (RFC 4959). */
export const authenticateCommand = command({
  name: 'AUTHENTICATE',
  states: ['not-authenticated'],
  // The mechanism, then the initial response (RFC 4959 §3); every response line is secret too (RFC 9051 §6.2.2).
  secretAfter(r) {
    r.sp();
    r.atom();
  },
  secretResponses: true,
  parse(r) {
    r.sp();
    const mechanism = r.atom().toUpperCase();
    let initial: string | null = null;
    if (!r.atEnd()) {
      r.sp();
      initial = r.astringAtom();
    }
    return { mechanism, initial };
  },
  async run(inv, { mechanism, initial }) {
    const session = inv.session;
    const oauth = isOAuthMechanism(mechanism) ? session.oauth : null;
    if (!isPasswordMechanism(mechanism) && oauth === null) throw no('CANNOT', `Unsupported authentication mechanism ${mechanism}`);
    if (session.loginDisabled) throw privacyRequired();
    const ask = async (challenge: string): Promise<string | null> => (await session.continuation(challenge))?.toString('latin1') ?? null;
    let result;
    try {
      result = oauth
        ? await runTokenSasl(session, oauth, mechanism, initial, ask, session.remoteAddress, 'imap')
        : await runPasswordSasl(mechanism, initial, ask);
    } catch (err) {
      if (err instanceof SaslFailure) throw bad(err.message);
      throw err;
    }
    if (result === null) throw new ImapError('BAD', null, 'Connection closed');
    if (result === 'cancelled') throw bad('Authentication cancelled');
    if ('ok' in result) return finish(session, loggedIn(result), TOKEN_CREDENTIAL);
    const { authz, user, password } = result;
    if (authz !== '' && authz !== user) throw no('AUTHORIZATIONFAILED', 'Proxy authorization is not supported');
    return finish(session, await authenticate(session, user, password));
  },
});
