/**
 * The admin API's routes as data: method, path, the zod schemas of path
 * parameters, query, body and success response, and a handler (whose return
 * type the response schema fixes). One table both registers the
 * routes on fastify and produces the OpenAPI document (openapi.ts), so the
 * two cannot drift apart. Inputs are validated before the handler runs; any
 * failure is a JSON error with a stable `error` code.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AdminError } from '../../auth/administration.js';

/** The stable error codes of the API (the `error` field of every error body). */
export type ApiErrorCode =
  | 'invalid'
  | 'unauthorized'
  | 'throttled'
  | 'not-found'
  | 'exists'
  | 'confirmation-required'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'internal';

/** A failure the client is told about: HTTP status, code, and a message for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const ADMIN_STATUS: Record<AdminError['code'], number> = { invalid: 400, exists: 409, 'not-found': 404 };

/** The status and body of any error a route ends with. */
export function errorBody(err: unknown): { status: number; body: { error: ApiErrorCode; message: string } } {
  if (err instanceof ApiError) return { status: err.status, body: { error: err.code, message: err.message } };
  if (err instanceof AdminError) return { status: ADMIN_STATUS[err.code], body: { error: err.code, message: err.message } };
  const status = (err as { statusCode?: number }).statusCode;
  // fastify's own 4xx: a body that is too large, not JSON, or of another type.
  if (status === 413) return { status, body: { error: 'payload-too-large', message: 'the request body is too large' } };
  if (status === 415) return { status, body: { error: 'unsupported-media-type', message: 'send application/json' } };
  if (status !== undefined && status >= 400 && status < 500) return { status: 400, body: { error: 'invalid', message: 'the request is malformed' } };
  return { status: 500, body: { error: 'internal', message: 'internal error (logged)' } };
}

/** What a handler receives: validated inputs and who asks. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** The API token's name. */
  token: string;
  /** The client's address. */
  address: string;
}

const NONE = z.object({});
type None = typeof NONE;

/** One route of the API; `path` is relative to /api/v1 and written the OpenAPI way (`/accounts/{name}`). */
export interface ApiRoute<P extends z.ZodType = None, Q extends z.ZodType = None, B extends z.ZodType = None, R extends z.ZodType = z.ZodType> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  /** The status of success (200, 201). */
  status?: number;
  /** The body of success (api-schemas.ts), published in the OpenAPI document. */
  response: R;
  /** Error statuses besides 400, 401 and 429, which every route may answer. */
  errors?: number[];
  handler(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<z.input<R>>;
}

/** A route of any shape, as the table holds it. */
// biome-ignore lint/suspicious/noExplicitAny: the table holds routes of different input types.
export type AnyRoute = ApiRoute<any, any, any, any>;

/** Declares a route (keeps the handler's input types tied to the schemas). */
export function route<P extends z.ZodType = None, Q extends z.ZodType = None, B extends z.ZodType = None, R extends z.ZodType = z.ZodType>(
  r: ApiRoute<P, Q, B, R>,
): AnyRoute {
  return r;
}

function parse<S extends z.ZodType>(schema: S | undefined, value: unknown, where: string): z.output<S> {
  const result = (schema ?? NONE).safeParse(value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const at = issue && issue.path.length > 0 ? ` ${issue.path.join('.')}` : '';
    throw new ApiError(400, 'invalid', `invalid ${where}${at}: ${issue?.message ?? 'malformed'}`);
  }
  return result.data as z.output<S>;
}

/** The fastify form of an OpenAPI path: `/accounts/{name}` → `/accounts/:name`. */
export const fastifyPath = (path: string): string => path.replace(/\{(\w+)\}/g, ':$1');

/** Who made the request (set by the API's authentication hook). */
export interface Caller {
  token: string;
  address: string;
}

/** Registers the table's routes on an app scoped to /api/v1; `caller` reads what authentication found. */
export function mountRoutes(app: FastifyInstance, routes: readonly AnyRoute[], caller: (request: FastifyRequest) => Caller): void {
  for (const r of routes) {
    app.route({
      method: r.method,
      url: fastifyPath(r.path),
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        const params = parse(r.params, request.params, 'path parameter');
        const query = parse(r.query, request.query, 'query parameter');
        const body = parse(r.body, request.body, 'body');
        const result = await r.handler({ params, query, body, ...caller(request) });
        return reply.code(r.status ?? 200).send(result);
      },
    });
  }
}
