/**
 * The non-authenticated state (RFC 5804 §2.1 AUTHENTICATE, §2.2 STARTTLS)
 * and its way back (§2.14.1 UNAUTHENTICATE). AUTHENTICATE runs the same SASL
 * logins as IMAP and POP3 (auth/sasl-login.ts: SCRAM, PLAIN, LOGIN and, with
 * [oauth], bearer tokens) through the same throttled checks. Cleartext
 * passwords only over TLS or from trusted networks (§2.1.1).
 */
import { type SaslLoginResult, saslLogin } from '../../auth/sasl-login.js';
import { type RefusalCodes, refusalReply } from '../../auth/login-refusal.js';
import { SaslFailure } from '../../auth/sasl.js';
import { badCommand, failure, type SieveCode } from '../errors.js';
import type { SieveSession } from '../session/session.js';
import { command, count, textArg } from './spec.js';

/**
 * RFC 5804 §1.3: TRYLATER for a temporary failure (the credential was not
 * checked); §2.1.1: ENCRYPT-NEEDED, cleartext mechanisms need TLS here;
 * AUTH-TOO-WEAK for proxy authorization.
 */
const REFUSAL_CODES: RefusalCodes<SieveCode> = { account: null, temporary: 'TRYLATER', privacy: 'ENCRYPT-NEEDED', proxy: 'AUTH-TOO-WEAK', failed: null };
const PRIVACY_REQUIRED = 'Plaintext authentication is disallowed on non-secure connections; use STARTTLS';

/** Enters the authenticated state after a successful check, or fails with the reason a client may be told. */
async function enter(session: SieveSession, res: SaslLoginResult, mechanism: string): Promise<void> {
  if (!res.ok) {
    const reply = refusalReply(res, mechanism, REFUSAL_CODES, PRIVACY_REQUIRED);
    if (reply) throw failure(reply.text, reply.code);
    return;
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
