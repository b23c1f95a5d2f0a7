/**
 * The admin HTTP API under /api/v1 (JSON; errors as `{ "error": code,
 * "message": text }` with a stable code), its OpenAPI document at
 * /api/v1/openapi.json, and its authentication.
 *
 * Authentication: `Authorization: Bearer <token>` (RFC 6750 §2.1) with a
 * token from `mailkeep admin token add`, looked up by its SHA-256
 * (auth/api-token.ts). A missing, unknown, revoked or expired token gets 401
 * with no detail and counts as a failed login of the client's address in the
 * login throttle (auth/throttle.ts), tarpit delay included; an address the
 * throttle refuses gets 429 without its token being looked at, as IMAP
 * refuses it NO [UNAVAILABLE].
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Administration, type AdminStoreRoles } from '../../auth/administration.js';
import { bearerToken, hashApiToken } from '../../auth/api-token.js';
import type { PasswordHashing } from '../../auth/password.js';
import type { AuthThrottle } from '../../auth/throttle.js';
import { packageVersion } from '../../config/version.js';
import { normalizeAddress } from '../../net/address.js';
import type { LiveNode } from '../../store/admin-types.js';
import { accountRoutes } from './api-accounts.js';
import { ApiError, type AnyRoute, type Caller, errorBody, mountRoutes } from './api-route.js';
import { serverRoutes } from './api-server.js';
import { sessionRoutes } from './api-sessions.js';
import { API_PREFIX, openApiDocument } from './openapi.js';
import type { ServerReport } from './server-report.js';
import type { SessionDirectory } from './session-directory.js';

/** What the admin API needs from the server. */
export interface AdminApiDeps {
  store: AdminStoreRoles;
  sessions: SessionDirectory;
  throttle: AuthThrottle;
  /** scrypt cost of new password hashes (auth-throttle.password-hash-cost). */
  hashing: PasswordHashing;
  log: Logger;
  /** Version, uptime, listeners, certificates, store kind, processes (server/server.ts). */
  report(): Promise<ServerReport>;
  /** The live nodes, as the server's heartbeat rule counts them (server/node-heartbeat.ts). */
  nodes(): Promise<LiveNode[]>;
}

/** The name failed token checks are counted under in the throttle (an account name cannot contain spaces). */
const THROTTLE_ACCOUNT = 'admin api';

/** Every route of the API, in documentation order. */
export function adminApiRoutes(deps: AdminApiDeps): AnyRoute[] {
  const admin = (caller: Caller): Administration => new Administration(deps.store, { actor: `token:${caller.token}`, address: caller.address }, deps.hashing);
  return [
    ...accountRoutes({ store: deps.store, sessions: deps.sessions, admin }),
    ...sessionRoutes({ sessions: deps.sessions, admin }),
    ...serverRoutes({ store: deps.store, report: deps.report, nodes: deps.nodes }),
  ];
}

/** Registers the API on the admin app. */
export function registerAdminApi(app: FastifyInstance, deps: AdminApiDeps): void {
  const routes = adminApiRoutes(deps);
  const document = openApiDocument(routes, packageVersion());
  const callers = new WeakMap<FastifyRequest, Caller>();

  const authenticate = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const address = normalizeAddress(request.socket.remoteAddress);
    const admission = await deps.throttle.begin(address, THROTTLE_ACCOUNT);
    if (!admission.admit) throw new ApiError(429, 'throttled', 'too many failed authentications from this address; try again later');
    let name: string | null = null;
    try {
      const token = bearerToken(request.headers.authorization);
      const found = token === null ? null : await deps.store.findApiToken(hashApiToken(token));
      if (found && (found.expiresAt === null || found.expiresAt.getTime() > Date.now())) name = found.name;
    } finally {
      const delay = await deps.throttle.finish(admission, name === null ? 'failed' : 'succeeded');
      if (name === null && delay > 0) await new Promise((r) => setTimeout(r, delay));
    }
    if (name === null) {
      reply.header('www-authenticate', 'Bearer realm="mailkeep"');
      throw new ApiError(401, 'unauthorized', 'unauthorized');
    }
    callers.set(request, { token: name, address });
  };

  app.register(
    async (api) => {
      api.setErrorHandler(async (err, request, reply) => {
        const { status, body } = errorBody(err);
        if (status >= 500) deps.log.error({ err, url: request.url }, 'admin API error');
        return reply.code(status).send(body);
      });
      api.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: 'not-found', message: 'no such endpoint' }));
      // The document is public: it describes the API, not the installation.
      api.get('/openapi.json', async () => document);
      api.register(async (secured) => {
        secured.addHook('onRequest', authenticate);
        mountRoutes(secured, routes, (request) => {
          const caller = callers.get(request);
          if (caller === undefined) throw new ApiError(401, 'unauthorized', 'unauthorized');
          return caller;
        });
      });
    },
    { prefix: API_PREFIX },
  );
}
