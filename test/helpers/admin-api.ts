/**
 * A client of the admin HTTP API for tests (node's fetch against 127.0.0.1),
 * and API tokens made the way `mailkeep admin token add` makes them.
 */
import { Administration } from '../../src/auth/administration.js';
import type { MailStore } from '../../src/store/types.js';
import { CHEAP_HASHING } from './cheap-hashing.js';

/** A response: status, parsed JSON body (null when empty), headers. */
export interface ApiResponse {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever the endpoint returns.
  body: any;
  headers: Headers;
}

/** Calls the API on `port`; `token` goes in the Authorization header. */
export async function callApi(
  port: number,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; authorization?: string } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.authorization !== undefined) headers.authorization = opts.authorization;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers };
}

/** Creates an API token on the store as the CLI would; returns the token. */
export function addToken(store: MailStore, name: string, expiresAt: Date | null = null): Promise<string> {
  return new Administration(store, { actor: 'cli:test', address: 'local' }, CHEAP_HASHING).addApiToken(name, expiresAt);
}
