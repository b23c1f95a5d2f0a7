/**
 * Whose is this bearer token? JWTs are checked locally against the issuer's
 * keys (jwt-check.ts); opaque tokens are introspected (RFC 7662) when this
 * server is registered as a client, and refused otherwise. The account name
 * is the first configured claim holding a string (`email`, then e.g.
 * `preferred_username` or `sub`).
 *
 * Invariant: a token is never logged; a failure to reach the issuer is
 * reported as `unavailable`, never as a wrong token.
 */
import { readFile } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import type { Config } from '../../config/schema.js';
import { IssuerUnavailable } from './bounded-fetch.js';
import { discoveryUrl, IssuerDiscovery } from './issuer-discovery.js';
import { type IntrospectionClient, introspect } from './introspection.js';
import { JwtCheck, looksLikeJwt, TokenRejected } from './jwt-check.js';

/** The `[oauth]` settings. */
export type OAuthSettings = Config['oauth'];

/** The verdict on a token: its user name, or why not (`unavailable`: the issuer could not be asked). */
export type TokenCheck = { ok: true; user: string } | { ok: false; unavailable: boolean; why: string };

/** Longest claim value taken as a user name (longer names are no account's). */
const MAX_CLAIMED_NAME = 256;

/**
 * The first of `names` whose claim is a non-empty string. An `email` the
 * issuer marks unverified (`email_verified: false`) is passed over: anyone
 * could have typed it.
 */
export function userFromClaims(claims: Record<string, unknown>, names: readonly string[]): string | null {
  for (const name of names) {
    const value = claims[name];
    if (typeof value !== 'string' || value === '' || value.length > MAX_CLAIMED_NAME) continue;
    if (name === 'email' && claims.email_verified === false) continue;
    return value;
  }
  return null;
}

/** Whether `aud` (a string or a list, RFC 7519 §4.1.3) names one of `accepted`. */
const audienceMatches = (aud: unknown, accepted: readonly string[]): boolean =>
  (Array.isArray(aud) ? aud : [aud]).some((a) => typeof a === 'string' && accepted.includes(a));

/** Checks bearer tokens of the configured issuer. */
export class OAuthVerifier {
  /** Where clients find the issuer (RFC 7628 §3.2.2 `openid-configuration`). */
  readonly discoveryUrl: string;
  /** The scope named in error answers, or null. */
  readonly scope: string | null;
  private readonly discovery: IssuerDiscovery;
  private readonly jwt: JwtCheck;

  constructor(
    private readonly settings: OAuthSettings & { issuer: string },
    private readonly client: IntrospectionClient | null,
  ) {
    const timeoutMs = settings.requestTimeoutSeconds * 1000;
    const refreshMs = settings.jwksRefreshSeconds * 1000;
    this.discoveryUrl = discoveryUrl(settings.issuer);
    this.scope = settings.scope;
    this.discovery = new IssuerDiscovery(settings.issuer, refreshMs, timeoutMs);
    this.jwt = new JwtCheck(this.discovery, {
      issuer: settings.issuer,
      audience: settings.audience,
      algorithms: settings.algorithms,
      clockToleranceSeconds: settings.clockToleranceSeconds,
      refreshMs,
      cooldownMs: settings.jwksCooldownSeconds * 1000,
      timeoutMs,
    });
  }

  /** The token's user, or why not. */
  async check(token: string): Promise<TokenCheck> {
    try {
      const claims = looksLikeJwt(token) ? await this.jwt.verify(token) : await this.introspected(token);
      const user = userFromClaims(claims, this.settings.usernameClaim);
      if (user === null) return { ok: false, unavailable: false, why: `no ${this.settings.usernameClaim.join(' or ')} claim` };
      return { ok: true, user };
    } catch (err) {
      if (err instanceof IssuerUnavailable) return { ok: false, unavailable: true, why: err.message };
      if (err instanceof TokenRejected) return { ok: false, unavailable: false, why: err.message };
      throw err;
    }
  }

  /**
   * The user name a JWT claims, read without checking it: only a throttle
   * key for an exchange that names no user; '' for opaque or unreadable tokens.
   */
  claimedUser(token: string): string {
    if (!looksLikeJwt(token)) return '';
    try {
      return userFromClaims(decodeJwt(token), this.settings.usernameClaim) ?? '';
    } catch {
      return '';
    }
  }

  /** RFC 7662 §2.2: the claims of an active token, checked as a JWT's would be; throws TokenRejected otherwise. */
  private async introspected(token: string): Promise<Record<string, unknown>> {
    if (this.client === null) throw new TokenRejected('an opaque token, and no oauth.client-id for introspection');
    const endpoint = this.settings.introspectionUrl ?? (await this.discovery.metadata()).introspectionEndpoint;
    if (endpoint === null) throw new IssuerUnavailable('the issuer names no introspection_endpoint; set oauth.introspection-url');
    const answer = await introspect(endpoint, this.client, token, this.settings.requestTimeoutSeconds * 1000);
    if (answer.active !== true) throw new TokenRejected('introspection: not active');
    const now = Date.now() / 1000;
    const tolerance = this.settings.clockToleranceSeconds;
    // RFC 7662 §2.2: the optional members, when present, bind the token as they would in a JWT (RFC 7519 §4.1).
    if (typeof answer.exp === 'number' && answer.exp + tolerance <= now) throw new TokenRejected('introspection: expired');
    if (typeof answer.nbf === 'number' && answer.nbf - tolerance > now) throw new TokenRejected('introspection: not yet valid');
    if (answer.iss !== undefined && answer.iss !== this.settings.issuer) throw new TokenRejected('introspection: another issuer');
    if (answer.aud !== undefined && !audienceMatches(answer.aud, this.settings.audience)) throw new TokenRejected('introspection: another audience');
    return answer;
  }
}

/** The verifier the settings ask for (reading the client secret), or null when OAuth is off. */
export async function createOAuthVerifier(settings: OAuthSettings): Promise<OAuthVerifier | null> {
  const issuer = settings.issuer;
  if (issuer === null) return null;
  let client: IntrospectionClient | null = null;
  if (settings.clientId !== null && settings.clientSecretFile !== null) {
    const secret = (await readFile(settings.clientSecretFile, 'utf8')).trim();
    if (secret === '') throw new Error(`oauth.client-secret-file ${settings.clientSecretFile} is empty`);
    client = { id: settings.clientId, secret };
  }
  return new OAuthVerifier({ ...settings, issuer }, client);
}
