/**
 * The OpenAPI 3.1 document of the admin API, generated from the route table
 * (api-route.ts): every route's path, parameters and body schema come from
 * the zod schemas the route validates with, and its success response from
 * the schema its handler's type is bound to (api-schemas.ts), so the
 * document cannot promise what the server does not do.
 */
import { z } from 'zod';
import type { AnyRoute } from './api-route.js';

/** Where the API lives. */
export const API_PREFIX = '/api/v1';

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string', description: 'a stable code, e.g. not-found, invalid, unauthorized' }, message: { type: 'string' } },
};

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  400: 'Invalid request',
  401: 'Missing, unknown, revoked or expired token (no detail)',
  404: 'Not found',
  409: 'Already exists',
  429: 'Too many failed authentications from this address',
};

/**
 * A JSON Schema of a zod schema, without the `$schema` key (OpenAPI 3.1 uses JSON Schema 2020-12): of
 * what a request may send (input), or of what a response sends (output; every type must be representable).
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: io === 'input' ? 'any' : 'throw' }) as Record<string, unknown>;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): object[] {
  if (schema === undefined) return [];
  const s = jsonSchema(schema) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (s.required ?? []).includes(name),
    schema: property,
  }));
}

function errorResponse(status: number): object {
  return { description: STATUS_TEXT[status] ?? 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

/** The document for these routes. */
export function openApiDocument(routes: readonly AnyRoute[], version: string): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const ops = (paths[API_PREFIX + r.path] ??= {});
    const responses: Record<string, object> = {
      [String(r.status ?? 200)]: { description: STATUS_TEXT[r.status ?? 200], content: { 'application/json': { schema: jsonSchema(r.response, 'output') } } },
    };
    for (const status of [400, 401, 429, ...(r.errors ?? [])]) responses[String(status)] = errorResponse(status);
    ops[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'mailkeep admin API', version },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from `mailkeep admin token add`' } },
      schemas: { Error: ERROR_SCHEMA },
    },
    paths,
  };
}
