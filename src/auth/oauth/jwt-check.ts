/**
 * JWT access tokens (RFC 7519, RFC 9068) checked locally with the issuer's
 * keys: signature by an allowed public-key algorithm, `iss`, `aud`, `exp`
 * (required) and `nbf` with a small clock tolerance. Keys come from the
 * discovery document's jwks_uri through jose's remote key set, which caches
 * them for `refreshMs` and fetches again when a token names an unknown key
 * id (a rotation), at most once per `cooldownMs`.
 *
 * Invariant: a key fetch that fails is IssuerUnavailable (temporary); only a
 * fault of the token itself is TokenRejected.
 */
import { createRemoteJWKSet, customFetch, errors, type JWTPayload, jwtVerify, type RemoteJWKSet } from 'jose';
import { boundedFetch, IssuerUnavailable, MAX_ISSUER_RESPONSE } from './bounded-fetch.js';
import type { IssuerDiscovery } from './issuer-discovery.js';

/** The token is not acceptable (signature, claims, form); `message` says why, for the log. */
export class TokenRejected extends Error {}

/** What the JWT check needs from the settings. */
export interface JwtRules {
  issuer: string;
  audience: readonly string[];
  algorithms: readonly string[];
  clockToleranceSeconds: number;
  refreshMs: number;
  cooldownMs: number;
  timeoutMs: number;
}

/** Key-selection failures that are the token's fault (unknown kid, ambiguous or unusable key); every other is the issuer's. */
const isTokenKeyError = (err: unknown): boolean =>
  err instanceof errors.JWKSNoMatchingKey ||
  err instanceof errors.JWKSMultipleMatchingKeys ||
  err instanceof errors.JOSENotSupported ||
  err instanceof errors.JOSEAlgNotAllowed;

/** JWS compact serialization (RFC 7515 §7.1): three base64url parts. */
export const looksLikeJwt = (token: string): boolean => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);

/** Checks JWTs of one issuer. */
export class JwtCheck {
  private keys: { uri: string; set: RemoteJWKSet } | null = null;

  constructor(
    private readonly discovery: IssuerDiscovery,
    private readonly rules: JwtRules,
  ) {}

  /** The verified claims; throws TokenRejected or IssuerUnavailable. */
  async verify(token: string): Promise<JWTPayload> {
    const set = this.keySet((await this.discovery.metadata()).jwksUri);
    try {
      const { payload } = await jwtVerify(
        token,
        async (header, jws) => {
          try {
            return await set(header, jws);
          } catch (err) {
            if (isTokenKeyError(err) || err instanceof IssuerUnavailable) throw err;
            throw new IssuerUnavailable(`signing keys: ${(err as Error).message}`, { cause: err });
          }
        },
        {
          issuer: this.rules.issuer,
          audience: [...this.rules.audience],
          algorithms: [...this.rules.algorithms],
          clockTolerance: this.rules.clockToleranceSeconds,
          // RFC 9068 §2.2: an access token carries its expiry; one without would be valid forever.
          requiredClaims: ['exp'],
        },
      );
      return payload;
    } catch (err) {
      if (err instanceof IssuerUnavailable) throw err;
      throw new TokenRejected(err instanceof errors.JOSEError ? `${err.code}: ${err.message}` : String(err));
    }
  }

  /** jose's cached key set for `uri`, made anew should discovery name another. */
  private keySet(uri: string): RemoteJWKSet {
    if (this.keys?.uri !== uri) {
      const limits = { timeoutMs: this.rules.timeoutMs, maxBytes: MAX_ISSUER_RESPONSE };
      const set = createRemoteJWKSet(new URL(uri), {
        timeoutDuration: this.rules.timeoutMs,
        cooldownDuration: this.rules.cooldownMs,
        cacheMaxAge: this.rules.refreshMs,
        // Bounded in size as well as time; never follows redirects.
        [customFetch]: async (url, init) => {
          const res = await boundedFetch(url, init, limits);
          return new Response(new Uint8Array(res.body), { status: res.status, headers: res.headers });
        },
      });
      this.keys = { uri, set };
    }
    return this.keys.set;
  }
}
