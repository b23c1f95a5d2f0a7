/**
 * Not-authenticated state (RFC 9051 §6.2): STARTTLS, AUTHENTICATE PLAIN with
 * SASL-IR (RFC 4959, RFC 4616) and LOGIN. Failed attempts are throttled per
 * client address and per account; passwords never reach a log.
 */
import { checkLogin, decodeSaslBase64, parseSaslPlain } from '../../auth/login.js';
import type { Account } from '../../store/types.js';
import { bad, ImapError, no } from '../errors.js';
import type { ImapSession } from '../session/session.js';
import { ParseError } from '../wire/reader.js';
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

/** Runs one authentication attempt; resolves to the account or throws NO. */
async function authenticate(session: ImapSession, user: string, password: string): Promise<Account> {
  if (session.loginDisabled) {
    throw no('PRIVACYREQUIRED', 'Plaintext authentication is disabled on unencrypted connections; use STARTTLS or port 993');
  }
  const res = await checkLogin(session, session.remoteAddress, user, password);
  if (res.ok) return res.account;
  if (res.reason === 'throttled') throw no('UNAVAILABLE', 'Too many failed logins; try again later');
  // RFC 5530 §3 UNAVAILABLE: a temporary failure; the password was not checked.
  if (res.reason === 'busy') throw no('UNAVAILABLE', 'Too many logins in progress; try again later');
  throw no('AUTHENTICATIONFAILED', 'Authentication failed');
}

function finish(session: ImapSession, account: Account): { code: string; text: string } {
  session.authenticated(account);
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

/** RFC 9051 §6.2.2 — AUTHENTICATE; only PLAIN (RFC 4616), with SASL-IR (RFC 4959). */
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
    if (mechanism !== 'PLAIN') throw no('CANNOT', `Unsupported authentication mechanism ${mechanism}`);
    if (session.loginDisabled) {
      throw no('PRIVACYREQUIRED', 'Plaintext authentication is disabled on unencrypted connections; use STARTTLS or port 993');
    }
    let response = initial;
    if (response === null) {
      const line = await session.continuation('');
      if (line === null) throw new ImapError('BAD', null, 'Connection closed');
      response = line.toString('latin1');
    }
    // RFC 9051 §6.2.2: "*" cancels the exchange.
    if (response === '*') throw bad('Authentication cancelled');
    const decoded = response === '=' ? Buffer.alloc(0) : decodeBase64(response);
    const plain = parseSaslPlain(decoded);
    if (!plain) throw bad('Malformed PLAIN response');
    const { authz, user, password } = plain;
    if (authz !== '' && authz !== user) throw no('AUTHORIZATIONFAILED', 'Proxy authorization is not supported');
    return finish(session, await authenticate(session, user, password));
  },
});

function decodeBase64(text: string): Buffer {
  const bytes = decodeSaslBase64(text);
  if (!bytes) throw new ParseError('Invalid base64 in SASL response');
  return bytes;
}
