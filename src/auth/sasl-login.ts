/**
 * Logging in with SASL (RFC 4422), for IMAP AUTHENTICATE and POP3 AUTH alike:
 * which mechanisms a connection offers, and one login with any of them. The
 * protocols only say the outcome in their own words.
 *
 * What is offered (issue 22): PLAIN and LOGIN send the password, and
 * OAUTHBEARER and XOAUTH2 (with [oauth]) a bearer token as secret as one
 * (RFC 7628 §3), so only where cleartext passwords are allowed (TLS, or
 * plaintext-auth settings); SCRAM (RFC 5802, RFC 7677) never sends it, so it
 * is offered on every connection as Dovecot does (its cleartext setting
 * covers plaintext mechanisms only), and its -PLUS variants on TLS
 * connections, where there is a channel to bind to. `[auth] scram = off`
 * offers no SCRAM at all.
 *
 * Every mechanism ends in checkCredential (auth/login.ts): the same
 * throttle, tarpit, log line, metrics, disabled-account and app-password-only
 * refusals and last login. SCRAM proves the main password, so an account
 * that requires app passwords refuses it as it refuses PLAIN with that password.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { AccountId } from '../ids.js';
import type { Account, ScramCredential, ScramHash } from '../store/types.js';
import { checkCredential, checkLogin, findAccount, type LoginDeps, type LoginResult, PASSWORD_CREDENTIAL } from './login.js';
import { isOAuthMechanism, OAUTH_MECHANISMS } from './oauth/sasl-oauth.js';
import { runTokenSasl } from './oauth/token-login.js';
import type { OAuthVerifier } from './oauth/token-verifier.js';
import { encodeChallenge, isPasswordMechanism, PASSWORD_MECHANISMS, runPasswordSasl, runSasl } from './sasl.js';
import { type ScramMechanism, SCRAM_MECHANISMS, scramExchange } from './scram.js';
import { SCRAM_DIGESTS, scramHmac } from './scram-keys.js';
import { serverSecret } from './server-secret.js';

/** What a SASL login needs of a session: the login's dependencies and the connection's facts. */
export interface SaslSession extends LoginDeps {
  readonly config: Pick<Config, 'auth' | 'authThrottle' | 'dataDir'>;
  readonly remoteAddress: string;
  /** Bearer-token checks ([oauth]), or null when OAuth is off. */
  readonly oauth: OAuthVerifier | null;
  readonly secure: boolean;
  /** Cleartext passwords are refused here (plain connection, not trusted: net/login-session.ts). */
  readonly loginDisabled: boolean;
  /** RFC 5056 channel binding data; null before TLS or for a type the connection cannot give. */
  channelBinding(type: string): Buffer | null;
}

/**
 * How a SASL login ended: a login result, or before any check `cancelled`
 * ("*"), `closed`, `privacy` (a password mechanism where cleartext passwords
 * are refused: PLAIN, LOGIN, OAUTHBEARER, XOAUTH2), `proxy` (an authorization identity other than the user),
 * `unsupported`; `refused`: a SCRAM exchange failed for a reason the client
 * is told (channel binding, downgrade, nonce), counted as a failed login.
 */
export type SaslLoginResult =
  | LoginResult
  | { ok: false; reason: 'refused'; text: string }
  | { ok: false; reason: 'cancelled' | 'closed' | 'privacy' | 'proxy' | 'unsupported' };

/** The mechanisms this connection offers, in advertised order. */
export function offeredMechanisms(session: Pick<SaslSession, 'secure' | 'loginDisabled' | 'config' | 'oauth'>): string[] {
  const scram = session.config.auth.scram ? [...SCRAM_MECHANISMS].filter(([, m]) => session.secure || !m.plus).map(([name]) => name) : [];
  if (session.loginDisabled) return scram;
  return [...scram, ...PASSWORD_MECHANISMS, ...(session.oauth ? OAUTH_MECHANISMS : [])];
}

/** An account id no account has (ids start at 1): the key lookup for an unknown name. */
const NO_ACCOUNT = 0 as AccountId;

/**
 * Logs in with mechanism `name` (upper case) from the client's initial
 * response, asking `ask` for each further response with a base64 challenge;
 * `protocol` ('imap', 'pop3') goes into the last login. Malformed exchanges
 * throw SaslFailure (auth/sasl.ts).
 */
export async function saslLogin(
  session: SaslSession,
  name: string,
  initial: string | null,
  ask: (challenge: string) => Promise<string | null>,
  protocol: string,
): Promise<SaslLoginResult> {
  if (!offeredMechanisms(session).includes(name)) {
    // A mechanism that sends a secret is refused for privacy where it would be offered with TLS; OAuth ones only with [oauth].
    const cleartext = isPasswordMechanism(name) || (isOAuthMechanism(name) && session.oauth !== null);
    return { ok: false, reason: cleartext && session.loginDisabled ? 'privacy' : 'unsupported' };
  }
  const scram = SCRAM_MECHANISMS.get(name);
  if (scram !== undefined) return scramLogin(session, name, scram, initial, ask, protocol);
  const result =
    session.oauth && isOAuthMechanism(name)
      ? await runTokenSasl(session, session.oauth, name, initial, ask, session.remoteAddress, protocol)
      : await runPasswordSasl(name, initial, ask);
  if (result === null) return { ok: false, reason: 'closed' };
  if (result === 'cancelled') return { ok: false, reason: 'cancelled' };
  if ('ok' in result) return result;
  // RFC 4616 §2: an authorization identity other than the user's own would be proxy authorization.
  if (result.authz !== '' && result.authz !== result.user) return { ok: false, reason: 'proxy' };
  return checkLogin(session, session.remoteAddress, result.user, result.password, protocol, name);
}

/** One SCRAM login: the exchange, the proof judged under the throttle, then the server's signature (RFC 5802 §3). */
async function scramLogin(
  session: SaslSession,
  name: string,
  mechanism: ScramMechanism,
  initial: string | null,
  ask: (challenge: string) => Promise<string | null>,
  protocol: string,
): Promise<SaslLoginResult> {
  let account: Account | null = null;
  const exchange = scramExchange(mechanism, {
    bindingOffered: session.secure,
    channelBinding: (type) => session.channelBinding(type),
    async credential(user) {
      // Names too long to look up get made-up keys like any unknown name.
      const found = await findAccount(session, user);
      // An unknown name costs the same two reads as a known one (id 0 is no account's), so timing does not tell them apart.
      const real = await session.store.scramCredential(found?.id ?? NO_ACCOUNT, mechanism.hash);
      if (found === null || real === null) return madeUpCredential(session, mechanism.hash, user);
      account = found;
      return real;
    },
  });
  const outcome = await runSasl(exchange, initial, ask);
  if (outcome === null) return { ok: false, reason: 'closed' };
  if (outcome === 'cancelled') return { ok: false, reason: 'cancelled' };
  // RFC 5802 §5.1 a: as for PLAIN, the authorization identity may only name the user itself.
  if (outcome.authzid !== '' && outcome.authzid !== outcome.user) return { ok: false, reason: 'proxy' };
  // The proof is checked already (an HMAC, no hash slot needed); the throttle flow judges it like any credential.
  const res = await checkCredential(session, session.remoteAddress, outcome.user, protocol, name, async () => {
    const known: Account | null = account;
    if (!outcome.proofValid || known === null) return null;
    // Read again: keys from before a password change that raced this exchange must not let it in.
    const now = await session.store.getAccount(known.id);
    // SCRAM keys are derived from the main password only: the proof is that password's.
    return now !== null && now.passwordHash === known.passwordHash ? { account: now, credential: PASSWORD_CREDENTIAL, app: null } : null;
  });
  if (!res.ok) return res.reason === 'failed' && outcome.refusal !== null ? { ok: false, reason: 'refused', text: outcome.refusal } : res;
  // RFC 5802 §3: the server proves itself with v=; neither IMAP nor POP3 carries data with success (RFC 5034 §4), so it goes as a challenge answered empty.
  const reply = await ask(encodeChallenge(outcome.serverFinal));
  if (reply === null) return { ok: false, reason: 'closed' };
  if (reply !== '') return { ok: false, reason: 'cancelled' };
  return res;
}

/**
 * Keys for a name without real ones (unknown, or an account whose keys are
 * not derived yet): the salt is HMAC(server secret, name), so it is the same
 * at every attempt, the iteration count is the configured one, and the keys
 * are random, so no proof holds (RFC 5802 §9: do not reveal which users exist).
 */
async function madeUpCredential(session: SaslSession, hash: ScramHash, user: string): Promise<ScramCredential> {
  const secret = await serverSecret(session.config.dataDir);
  const salt = scramHmac('SHA-256', secret, `scram-salt\0${hash}\0${user.toLowerCase()}`).subarray(0, 16);
  const bytes = SCRAM_DIGESTS[hash].bytes;
  return { hash, salt, iterations: session.config.auth.scramIterations, storedKey: randomBytes(bytes), serverKey: randomBytes(bytes) };
}
