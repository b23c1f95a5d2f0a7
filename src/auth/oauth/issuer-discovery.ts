/**
 * OpenID Connect Discovery 1.0 (§4): the issuer's metadata from
 * `<issuer>/.well-known/openid-configuration`, fetched when first needed and
 * again when older than the refresh period. A failed refresh keeps the last
 * good copy; without one, logins are refused as temporary (IssuerUnavailable).
 * After a failure the fetch is retried at most once per RETRY_MS, however
 * many logins ask.
 */
import { isIssuerUrl } from '../../config/schema.js';
import { type FetchLimits, fetchJsonObject, IssuerUnavailable, MAX_ISSUER_RESPONSE } from './bounded-fetch.js';

/** What mailkeep uses of the issuer's metadata. */
export interface IssuerMetadata {
  /** RFC 7517 key set the tokens are signed with. */
  jwksUri: string;
  /** RFC 7662 endpoint, when the issuer names one (RFC 8414 §2). */
  introspectionEndpoint: string | null;
}

/** After a failed fetch without a good copy, logins within this long share its error. */
const RETRY_MS = 5_000;

/** `<issuer>/.well-known/openid-configuration`, the issuer's trailing slash dropped (OIDC Discovery §4). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** The metadata of one issuer, cached. */
export class IssuerDiscovery {
  private current: { metadata: IssuerMetadata; at: number } | null = null;
  private pending: Promise<IssuerMetadata> | null = null;
  private failure: { error: IssuerUnavailable; at: number } | null = null;

  constructor(
    private readonly issuer: string,
    private readonly refreshMs: number,
    private readonly timeoutMs: number,
  ) {}

  /** The metadata, fetched if missing or stale. */
  async metadata(): Promise<IssuerMetadata> {
    const now = Date.now();
    const retryLater = this.failure !== null && now - this.failure.at < RETRY_MS;
    if (this.current !== null && (retryLater || now - this.current.at < this.refreshMs)) return this.current.metadata;
    if (retryLater) throw this.failure!.error;
    this.pending ??= this.fetch().finally(() => (this.pending = null));
    try {
      return await this.pending;
    } catch (err) {
      if (this.current !== null) return this.current.metadata;
      throw err;
    }
  }

  private async fetch(): Promise<IssuerMetadata> {
    const url = discoveryUrl(this.issuer);
    const limits: FetchLimits = { timeoutMs: this.timeoutMs, maxBytes: MAX_ISSUER_RESPONSE };
    try {
      const doc = await fetchJsonObject(url, { method: 'GET' }, limits);
      // OIDC Discovery §4.3: the document's issuer must be exactly the one asked, or its tokens are someone else's.
      if (doc.issuer !== this.issuer) throw new IssuerUnavailable(`${url}: names issuer ${JSON.stringify(doc.issuer)}, not ${this.issuer}`);
      const jwksUri = doc.jwks_uri;
      if (typeof jwksUri !== 'string' || !isIssuerUrl(jwksUri)) throw new IssuerUnavailable(`${url}: no usable jwks_uri`);
      const introspection = doc.introspection_endpoint;
      const metadata = {
        jwksUri,
        introspectionEndpoint: typeof introspection === 'string' && isIssuerUrl(introspection) ? introspection : null,
      };
      this.current = { metadata, at: Date.now() };
      this.failure = null;
      return metadata;
    } catch (err) {
      const error = err instanceof IssuerUnavailable ? err : new IssuerUnavailable(String(err));
      this.failure = { error, at: Date.now() };
      throw error;
    }
  }
}
