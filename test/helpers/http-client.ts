/** A small HTTP(S) client for tests: one request, the whole (bounded) response, a CA file for HTTPS. */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

const MAX_RESPONSE_BYTES = 4 << 20;

/**
 * Sends one request to `url`; `ca` (PEM) is trusted for HTTPS, whose certificate must cover `servername`
 * (default localhost, as test certificates do); `host` overrides the Host header.
 */
export function httpFetch(
  url: string,
  options: { method?: string; body?: string | Buffer; headers?: Record<string, string>; ca?: Buffer; host?: string; servername?: string } = {},
): Promise<HttpResponse> {
  const target = new URL(url);
  const headers = { ...(options.headers ?? {}), ...(options.host ? { host: options.host } : {}) };
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      { method: options.method ?? 'GET', headers, ca: options.ca, servername: options.servername ?? 'localhost', timeout: 20_000 },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('response too large'));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}
