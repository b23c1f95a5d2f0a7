/**
 * The bearer-token SASL messages: OAUTHBEARER (RFC 7628 §3.1) and Google's
 * XOAUTH2, parsed into the user they name and the token; and the JSON error
 * each sends as a challenge when the token fails (RFC 7628 §3.2.2).
 *
 * Invariant: parsing is bounded (the message is one SASL line, and at most
 * MAX_PAIRS key/value pairs are read); a malformed message is a SaslFailure
 * whose text never quotes the message.
 */
import { SaslFailure } from '../sasl.js';

/** Bearer-token mechanisms in the order they are advertised. */
export const OAUTH_MECHANISMS: readonly string[] = ['OAUTHBEARER', 'XOAUTH2'];

/** Whether `name` (upper case) is a bearer-token mechanism. */
export function isOAuthMechanism(name: string): boolean {
  return OAUTH_MECHANISMS.includes(name);
}

/** What a client's message carries. */
export interface BearerMessage {
  /** The user the client names (OAUTHBEARER's authzid, XOAUTH2's user); '' when none. */
  user: string;
  /** The bearer token, or null when the client sent none (RFC 7628 §4.3: a query for the error answer). */
  token: string | null;
}

/** Key/value pairs read at most; unknown keys are ignored (RFC 7628 §3.1), so this only bounds the work. */
const MAX_PAIRS = 32;

/** RFC 7628 §3.1: key = 1*ALPHA, value = *(VCHAR / SP / HTAB / CR / LF). */
const KVPAIR = /^([A-Za-z]+)=([\x21-\x7e \t\r\n]*)$/;

/**
 * Splits `kvpairs kvsep` (each pair ended by ^A, the whole by one more ^A)
 * into a map; duplicate keys are malformed.
 */
function parsePairs(parts: readonly string[], what: string): Map<string, string> {
  // The message ends in the closing kvsep: after splitting on ^A, the last two parts are empty.
  if (parts.length < 2 || parts.at(-1) !== '' || parts.at(-2) !== '' || parts.length - 2 > MAX_PAIRS) throw new SaslFailure(`Malformed ${what} message`);
  const pairs = new Map<string, string>();
  for (const part of parts.slice(0, -2)) {
    const m = KVPAIR.exec(part);
    if (!m || pairs.has(m[1]!.toLowerCase())) throw new SaslFailure(`Malformed ${what} message`);
    pairs.set(m[1]!.toLowerCase(), m[2]!);
  }
  return pairs;
}

/** RFC 6750 §2.1: `Bearer 1*SP b64token`, the scheme in any case (RFC 7628 §4); null for an empty or other scheme. */
function bearerToken(auth: string): string | null {
  const m = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(auth);
  return m ? m[1]! : null;
}

/** RFC 5801 §4 saslname: "," and "=" travel as =2C and =3D; any other "=" is malformed. */
function decodeSaslName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/**
 * RFC 7628 §3.1: `gs2-header kvsep *kvpair kvsep`, the GS2 header (RFC 5801
 * §4) being `n,` or `y,` (no channel binding: this mechanism has none), an
 * optional `a=authzid`, and `,`. `auth` is required.
 */
export function parseOAuthBearer(message: Buffer): BearerMessage {
  const parts = message.toString('utf8').split('\x01', MAX_PAIRS + 3);
  const header = /^[ny],(?:a=([^,]*))?,$/.exec(parts[0] ?? '');
  if (!header) throw new SaslFailure('Malformed OAUTHBEARER message: expected a GS2 header such as "n,a=user,"');
  const user = header[1] === undefined ? '' : decodeSaslName(header[1]);
  if (user === null) throw new SaslFailure('Malformed OAUTHBEARER authorization identity');
  const auth = parsePairs(parts.slice(1), 'OAUTHBEARER').get('auth');
  if (auth === undefined) throw new SaslFailure('OAUTHBEARER message without auth');
  return { user, token: bearerToken(auth) };
}

/** Google's XOAUTH2: `user=<name>^Aauth=Bearer <token>^A^A`; both are required. */
export function parseXOAuth2(message: Buffer): BearerMessage {
  const pairs = parsePairs(message.toString('utf8').split('\x01', MAX_PAIRS + 3), 'XOAUTH2');
  const user = pairs.get('user');
  const auth = pairs.get('auth');
  if (user === undefined || user === '' || auth === undefined) throw new SaslFailure('XOAUTH2 message without user or auth');
  return { user, token: bearerToken(auth) };
}

/** Where clients learn what token to get. */
export interface TokenHints {
  scope: string | null;
  discoveryUrl: string;
}

/**
 * The error challenge (its JSON text) after a failed token: RFC 7628 §3.2.2
 * for OAUTHBEARER; for XOAUTH2 the shape Google's servers send.
 */
export function errorChallenge(mechanism: string, hints: TokenHints): string {
  const scope = hints.scope === null ? {} : { scope: hints.scope };
  if (mechanism === 'XOAUTH2') return JSON.stringify({ status: '401', schemes: 'bearer', ...scope });
  return JSON.stringify({ status: 'invalid_token', ...scope, 'openid-configuration': hints.discoveryUrl });
}
