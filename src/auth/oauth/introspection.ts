/**
 * RFC 7662 token introspection, for opaque (non-JWT) access tokens: the
 * token is posted to the issuer's endpoint by this server as a client of the
 * issuer, which answers whether it is active and whose it is.
 */
import { fetchJsonObject } from './bounded-fetch.js';

/** This server's registration at the issuer. */
export interface IntrospectionClient {
  id: string;
  secret: string;
}

/** Largest introspection answer read. */
const MAX_INTROSPECTION_RESPONSE = 64 * 1024;

/** RFC 6749 §2.3.1 / Appendix B: client credentials are form-encoded before the Basic scheme. */
const formEncode = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+');

/** RFC 7662 §2.1: asks `endpoint` about `token`; resolves to the §2.2 answer (`active`, `exp`, `aud`, `username` …). */
export function introspect(endpoint: string, client: IntrospectionClient, token: string, timeoutMs: number): Promise<Record<string, unknown>> {
  // RFC 7662 §2.1: the protected resource authenticates itself; client_secret_basic (RFC 6749 §2.3.1).
  const basic = Buffer.from(`${formEncode(client.id)}:${formEncode(client.secret)}`).toString('base64');
  return fetchJsonObject(
    endpoint,
    {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    },
    { timeoutMs, maxBytes: MAX_INTROSPECTION_RESPONSE },
  );
}
