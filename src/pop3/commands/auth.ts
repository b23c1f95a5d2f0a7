/**
 * AUTHORIZATION state (RFC 1939 §4, §7): USER/PASS, AUTH with the mechanisms
 * of auth/sasl-login.ts (SCRAM, PLAIN, LOGIN and, with [oauth], OAUTHBEARER
 * and XOAUTH2; RFC 5034) and STLS (RFC 2595 §4). Cleartext passwords are
 * refused on an unencrypted connection unless the configuration allows them;
 * failed attempts are throttled by the shared login check; passwords never
 * reach a log. APOP is not offered.
 */
import { checkLogin } from '../../auth/login.js';
import { type RefusalCodes, refusalReply } from '../../auth/login-refusal.js';
import { SaslFailure } from '../../auth/sasl.js';
import { offeredMechanisms, saslLogin, type SaslLoginResult } from '../../auth/sasl-login.js';
import { badCommand, failure, type Pop3Code } from '../errors.js';
import type { Pop3Session } from '../session/session.js';
import { bodyLines } from '../wire/response.js';
import { command, noArgs, words } from './spec.js';

const PRIVACY_REQUIRED = 'Plaintext authentication is disallowed on non-secure connections; use STLS or port 995';

/** RFC 3206 §4: SYS/TEMP for a temporary failure (the password was not checked), [AUTH] for the rest, a policy violation included (§5). */
const REFUSAL_CODES: RefusalCodes<Pop3Code> = { account: 'AUTH', temporary: 'SYS/TEMP', privacy: 'AUTH', proxy: 'AUTH', failed: 'AUTH' };

/** Refuses cleartext passwords where the configuration does (RFC 5034 §4, RFC 8314 §3). */
function requirePrivacy(session: Pop3Session): void {
  // RFC 3206 §5: a policy violation is an [AUTH] problem.
  if (session.loginDisabled) throw failure(PRIVACY_REQUIRED, 'AUTH');
}

/** Checks the password and enters the TRANSACTION state, or fails with [AUTH] / [SYS/TEMP]; `mechanism` as checkLogin's. */
async function logIn(session: Pop3Session, user: string, password: string, mechanism: string): Promise<void> {
  await enter(session, await checkLogin(session, session.remoteAddress, user, password, 'pop3', mechanism), mechanism);
}

/** Enters the TRANSACTION state after a successful login, or fails with [AUTH] / [SYS/TEMP]. */
async function enter(session: Pop3Session, res: SaslLoginResult, mechanism: string): Promise<void> {
  if (!res.ok) {
    const reply = refusalReply(res, mechanism, REFUSAL_CODES, PRIVACY_REQUIRED);
    if (reply) throw failure(reply.text, reply.code);
    return;
  }
  await session.login(res.account, res.credential);
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
    await logIn(session, name, password, 'password');
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
      session.write(bodyLines(offeredMechanisms(session)));
      session.endMultiline();
      return;
    }
    // RFC 5034 §4: without an initial response, the first (empty) challenge is "+ ".
    let result;
    try {
      result = await saslLogin(session, mechanism, initial, (challenge) => session.continuation(challenge), 'pop3');
    } catch (err) {
      if (err instanceof SaslFailure) throw failure(err.message);
      throw err;
    }
    await enter(session, result, mechanism);
  },
});
