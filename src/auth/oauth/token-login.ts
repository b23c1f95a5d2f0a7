/**
 * A bearer-token login (OAUTHBEARER, XOAUTH2) on any protocol, through the
 * same throttle flow as passwords (auth/login.ts checkCredential): admitted
 * per client address and claimed user, a bad token counted and tarpitted,
 * disabled accounts refused, the last login recorded as `<protocol>/<mechanism>`.
 *
 * Exchange (RFC 7628 §3): the client's message (SASL-IR or after an empty
 * challenge); on success the protocol's OK at once; on a bad token the JSON
 * error as a challenge, the client's dummy response (^A, "*", or XOAUTH2's
 * empty line), then the protocol's failure. Refusals that are no verdict on
 * the token (throttled, busy, issuer unavailable, disabled) are answered at once.
 */
import type { Account, MailStore } from '../../store/types.js';
import { MAX_ACCOUNT_NAME } from '../account-name.js';
import { checkCredential, type LoginDeps, type LoginResult, type Verification } from '../login.js';
import { decodeSaslResponse, encodeChallenge } from '../sasl.js';
import { type BearerMessage, errorChallenge, parseOAuthBearer, parseXOAuth2 } from './sasl-oauth.js';
import type { OAuthVerifier } from './token-verifier.js';

/** How a token login names its credential in the live-session list (net/live-sessions.ts). */
export const TOKEN_CREDENTIAL = 'oauth';

/** The account `name` designates: an account of that name, else an alias of one (`mailkeep alias`). */
async function accountNamed(store: MailStore, name: string): Promise<Account | null> {
  if (name === '' || [...name].length > MAX_ACCOUNT_NAME) return null;
  const account = await store.findAccount(name);
  if (account !== null) return account;
  const alias = await store.findAlias(name);
  return alias === null ? null : store.getAccount(alias.accountId);
}

/** The account the token proves, when the user the client named (if any) is that account too. */
async function verifyToken(deps: LoginDeps, oauth: OAuthVerifier, message: BearerMessage & { token: string }): Promise<Verification> {
  const check = await oauth.check(message.token);
  if (!check.ok) {
    if (check.unavailable) deps.log.warn({ why: check.why }, 'cannot check an OAuth token: the issuer is unavailable');
    else deps.log.info({ why: check.why }, 'OAuth token refused');
    return check.unavailable ? { notChecked: 'unavailable' } : null;
  }
  const account = await accountNamed(deps.store, check.user);
  if (account === null) {
    deps.log.info({ user: check.user.slice(0, 64) }, 'OAuth token for a user without an account');
    return null;
  }
  // RFC 7628 §3.2: the authzid is the client's claim; the token's identity decides, and the two must agree.
  if (message.user !== '' && (await accountNamed(deps.store, message.user))?.id !== account.id) {
    deps.log.info({ user: account.name }, 'OAuth token for another user than the one named');
    return null;
  }
  return { account, credential: TOKEN_CREDENTIAL, app: null };
}

/**
 * Runs `mechanism` from the client's initial response (null: none; "=":
 * empty), asking `ask` with base64 challenges. Resolves to the login's
 * result, 'cancelled' when the client sent "*" instead of its message, or
 * null when the connection closed. A malformed message throws SaslFailure.
 */
export async function runTokenSasl(
  deps: LoginDeps,
  oauth: OAuthVerifier,
  mechanism: string,
  initial: string | null,
  ask: (challenge: string) => Promise<string | null>,
  ip: string,
  protocol: string,
): Promise<LoginResult | 'cancelled' | null> {
  // RFC 7628 §3: client-first; without SASL-IR the server's first challenge is empty.
  const line = initial === null ? await ask('') : initial === '=' ? '' : initial;
  if (line === null) return null;
  if (line === '*') return 'cancelled';
  const decoded = decodeSaslResponse(line);
  const message = mechanism === 'XOAUTH2' ? parseXOAuth2(decoded) : parseOAuthBearer(decoded);
  const { token } = message;
  // No token is no guess (RFC 7628 §4.3: how a client asks what to get): answered with the error, not counted.
  const result: LoginResult =
    token === null
      ? { ok: false, reason: 'failed' }
      : await checkCredential(deps, ip, message.user || oauth.claimedUser(token), `${protocol}/${mechanism.toLowerCase()}`, mechanism, () =>
          verifyToken(deps, oauth, { ...message, token }),
        );
  if (result.ok || result.reason !== 'failed') return result;
  // RFC 7628 §3.2.2-§3.2.3: the error goes out as a challenge; whatever the client answers, the exchange fails.
  const dummy = await ask(encodeChallenge(errorChallenge(mechanism, oauth)));
  return dummy === null ? null : result;
}
