/**
 * Not-authenticated state (RFC 9051 §6.2): STARTTLS, AUTHENTICATE (the
 * mechanisms of auth/sasl-login.ts: SCRAM, PLAIN, LOGIN, and with [oauth]
 * OAUTHBEARER and XOAUTH2; SASL-IR, RFC 4959) and LOGIN. Failed attempts are
 * throttled per client address and per account; passwords never reach a log.
 */
import { checkLogin } from '../../auth/login.js';
import { SaslFailure } from '../../auth/sasl.js';
import { saslLogin, type SaslLoginResult } from '../../auth/sasl-login.js';
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

/** A successful login: the account and the credential it used (the live-session list). */
type LoggedIn = { account: Account; credential: string };

/** Runs one password attempt (`mechanism`: the SASL one, or "password" for LOGIN); resolves to the account or throws NO. */
async function authenticate(session: ImapSession, user: string, password: string, mechanism: string): Promise<LoggedIn> {
  if (session.loginDisabled) throw privacyRequired();
  return loggedIn(await checkLogin(session, session.remoteAddress, user, password, 'imap', mechanism), mechanism);
}

/** The account of a successful login, or the NO (BAD) that says why not. */
function loggedIn(res: SaslLoginResult, mechanism: string): LoggedIn {
  if (res.ok) return res;
  switch (res.reason) {
    // RFC 5530 §3: the user should contact the administrator; the credentials were right.
    case 'disabled':
      throw no('CONTACTADMIN', 'This account is disabled');
    // The main password was right (by LOGIN, PLAIN or SCRAM), but this account logs in with app passwords only.
    case 'app-password-required':
      throw no('AUTHENTICATIONFAILED', 'This account requires an app password');
    case 'throttled':
      throw no('UNAVAILABLE', 'Too many failed logins; try again later');
    // RFC 5530 §3 UNAVAILABLE: a temporary failure; the password was not checked.
    case 'busy':
      throw no('UNAVAILABLE', 'Too many logins in progress; try again later');
    case 'unavailable':
      throw no('UNAVAILABLE', 'The token cannot be checked now; try again later');
    case 'privacy':
      throw privacyRequired();
    case 'proxy':
      throw no('AUTHORIZATIONFAILED', 'Proxy authorization is not supported');
    case 'unsupported':
      throw no('CANNOT', `Unsupported authentication mechanism ${mechanism.slice(0, 40)}`);
    case 'cancelled':
      throw bad('Authentication cancelled');
    case 'closed':
      throw new ImapError('BAD', null, 'Connection closed');
    case 'refused':
      throw no('AUTHENTICATIONFAILED', res.text);
    case 'failed':
      throw no('AUTHENTICATIONFAILED', 'Authentication failed');
  }
}

function finish(session: ImapSession, { account, credential }: LoggedIn): { code: string; text: string } {
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
    return finish(inv.session, await authenticate(inv.session, user, password, 'password'));
  },
});

/** RFC 9051 §6.2.2 — AUTHENTICATE with the mechanisms of auth/sasl-login.ts and SASL-IR (RFC 4959). */
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
    const ask = async (challenge: string): Promise<string | null> => (await session.continuation(challenge))?.toString('latin1') ?? null;
    let result;
    try {
      result = await saslLogin(session, mechanism, initial, ask, 'imap');
    } catch (err) {
      if (err instanceof SaslFailure) throw bad(err.message);
      throw err;
    }
    return finish(session, loggedIn(result, mechanism));
  },
});
