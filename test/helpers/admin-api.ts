/**
 * A client of the admin HTTP API for tests (node's fetch against 127.0.0.1),
 * and API tokens made the way `mailkeep admin token add` makes them. Every
 * answer of an API operation is checked against the server's published
 * OpenAPI document (its status must be listed, its body must match the
 * schema), so the whole API test suite tests the document too.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { Administration } from '../../src/auth/administration.js';
import type { MailStore } from '../../src/store/types.js';
import { CHEAP_HASHING } from './cheap-hashing.js';
import { type Schema, validate } from './json-schema.js';

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
  // Before the request: its connection is then the last one used (see openApiDocument).
  const doc = await documentOf(port);
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const answer = { status: res.status, body: text === '' ? null : JSON.parse(text), headers: res.headers };
  checkDocumented(doc, method, path, answer);
  return answer;
}

/**
 * The document, over a connection of its own that closes after it (fetch would keep it in its pool, where a
 * test that then blocks the event loop, as a spawned CLI does, finds it closed by the server's keep-alive timer).
 */
function openApiDocument(port: number): Promise<Schema> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/api/v1/openapi.json', agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Schema));
    });
    req.on('timeout', () => req.destroy(new Error('the OpenAPI document did not arrive')));
    req.on('error', reject);
  });
}

/** The OpenAPI document each server (by admin port) publishes. */
const documents = new Map<number, Promise<Schema>>();

/** The operations whose answers were checked ("get /api/v1/accounts/{name}"), with the statuses seen. */
export const checkedOperations = new Map<string, Set<number>>();

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}

/** The document of the server on `port` (fetched once). */
function documentOf(port: number): Promise<Schema> {
  let loading = documents.get(port);
  if (!loading) {
    loading = openApiDocument(port);
    documents.set(port, loading);
    // A port that did not answer (TLS, a stopped server) is asked again next time.
    loading.catch(() => documents.delete(port));
  }
  return loading;
}

/** Checks an answer against the operation the document lists for it; a path outside the API, or unknown, has none. */
function checkDocumented(doc: Schema, method: string, path: string, answer: ApiResponse): void {
  const pathname = new URL(path, 'http://localhost').pathname;
  const paths = doc.paths as Record<string, Record<string, Operation>>;
  const template = Object.keys(paths).find((t) => new RegExp(`^${t.replace(/\{\w+\}/g, '[^/]+')}$`).test(pathname));
  const operation = template === undefined ? undefined : paths[template]![method.toLowerCase()];
  if (template === undefined || operation === undefined) return;
  const response = operation.responses[String(answer.status)];
  assert.ok(response, `${method} ${pathname} answered ${answer.status}, which its OpenAPI operation does not list`);
  const schema = response.content?.['application/json']?.schema;
  assert.ok(schema, `${method} ${template} ${answer.status} has no published schema`);
  assert.deepEqual(validate(schema, answer.body, doc), [], `${method} ${pathname} ${answer.status}: ${JSON.stringify(answer.body)}`);
  const key = `${method.toLowerCase()} ${template}`;
  const statuses = checkedOperations.get(key) ?? new Set<number>();
  statuses.add(answer.status);
  checkedOperations.set(key, statuses);
}

/** Creates an API token on the store as the CLI would; returns the token. */
export function addToken(store: MailStore, name: string, expiresAt: Date | null = null): Promise<string> {
  return new Administration(store, { actor: 'cli:test', address: 'local' }, CHEAP_HASHING).addApiToken(name, expiresAt);
}
