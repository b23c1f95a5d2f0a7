/**
 * HTTP requests to the token issuer (discovery, signing keys, introspection),
 * each bounded in time and in the bytes read, never following redirects
 * (a redirect could lead a key fetch off the issuer's host).
 *
 * Invariant: a slow, silent or oversized answer costs at most `timeoutMs` and
 * `maxBytes`; every failure becomes IssuerUnavailable, so a login is refused
 * as temporary rather than counted as a wrong token.
 */

/** The issuer could not be asked, or answered nonsense: a temporary failure, not a bad token. */
export class IssuerUnavailable extends Error {}

/** Bounds of one request. */
export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
}

/** Largest issuer answer read: discovery documents and key sets are a few KB. */
export const MAX_ISSUER_RESPONSE = 256 * 1024;

/** What came back: the status, the headers and the whole body. */
export interface BoundedResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** Requests `url` within `limits`; throws IssuerUnavailable on network errors, timeouts and bodies over the limit. */
export async function boundedFetch(url: string, init: RequestInit, limits: FetchLimits): Promise<BoundedResponse> {
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  try {
    const res = await fetch(url, { ...init, signal, redirect: 'manual' });
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > limits.maxBytes) {
      await res.body?.cancel();
      throw new IssuerUnavailable(`${url}: answer of ${declared} bytes is over ${limits.maxBytes}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limits.maxBytes) {
          await reader.cancel();
          throw new IssuerUnavailable(`${url}: answer is over ${limits.maxBytes} bytes`);
        }
        chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
    }
    return { status: res.status, headers: res.headers, body: Buffer.concat(chunks, size) };
  } catch (err) {
    if (err instanceof IssuerUnavailable) throw err;
    const why = timeout.aborted ? `no answer within ${limits.timeoutMs} ms` : (err as Error).message;
    throw new IssuerUnavailable(`${url}: ${why}`, { cause: err });
  }
}

/** Requests `url` and parses its 200 answer as a JSON object; anything else is IssuerUnavailable. */
export async function fetchJsonObject(url: string, init: RequestInit, limits: FetchLimits): Promise<Record<string, unknown>> {
  const res = await boundedFetch(url, { ...init, headers: { accept: 'application/json', ...(init.headers as Record<string, string> | undefined) } }, limits);
  if (res.status !== 200) throw new IssuerUnavailable(`${url}: HTTP status ${res.status}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new IssuerUnavailable(`${url}: the answer is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new IssuerUnavailable(`${url}: the answer is not a JSON object`);
  return parsed as Record<string, unknown>;
}
