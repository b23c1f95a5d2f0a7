/**
 * /api/v1/sessions: live connections (user, protocol, address, TLS, since,
 * selected mailbox, current command) and kicking them, through a
 * SessionDirectory (session-directory.ts): every worker's and every node's,
 * with the processes that answered in time and those of live nodes that did
 * not. A kicked IMAP client sees `* BYE`
 * (RFC 9051 §7.1.5), a POP3 client `-ERR`. Every kick is audited.
 */
import { z } from 'zod';
import { AdminError, type Administration } from '../../auth/administration.js';
import { SESSION_PROTOCOLS } from '../../net/live-sessions.js';
import { type AnyRoute, route } from './api-route.js';
import { KICK_REASON } from './api-accounts.js';
import { kickedSchema, sessionListingSchema } from './api-schemas.js';
import { MAX_PAGE } from './paging.js';
import type { SessionDirectory } from './session-directory.js';

/** What the session routes use. */
export interface SessionRouteDeps {
  sessions: SessionDirectory;
  admin(caller: { token: string; address: string }): Administration;
}

/** The session routes. */
export function sessionRoutes(deps: SessionRouteDeps): AnyRoute[] {
  const { sessions } = deps;
  return [
    route({
      method: 'GET',
      path: '/sessions',
      tag: 'sessions',
      summary:
        'Live sessions of every worker and node, optionally of one user and/or protocol (at most `limit`), which processes answered, and which processes of live nodes did not (`missing`)',
      query: z.object({
        user: z.string().max(1024).optional(),
        protocol: z.enum(SESSION_PROTOCOLS).optional(),
        limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(MAX_PAGE),
      }),
      response: sessionListingSchema,
      handler: ({ query }) => sessions.list({ user: query.user, protocol: query.protocol }, query.limit),
    }),
    route({
      method: 'DELETE',
      path: '/sessions/{id}',
      tag: 'sessions',
      summary: 'End one session (IMAP: * BYE)',
      params: z.object({ id: z.string().min(1).max(64) }),
      errors: [404],
      response: kickedSchema,
      handler: async ({ params, ...caller }) =>
        deps.admin(caller).audited('session.kick', params.id, async () => {
          const kicked = await sessions.kick({ id: params.id }, KICK_REASON);
          if (kicked === 0) throw new AdminError('not-found', `no such session: ${params.id}`);
          return { kicked };
        }),
    }),
    route({
      method: 'DELETE',
      path: '/accounts/{name}/sessions',
      tag: 'sessions',
      summary: 'End every session of an account (0 when it has none); its logins stay allowed',
      params: z.object({ name: z.string().min(1).max(1024) }),
      errors: [404],
      response: kickedSchema,
      handler: async ({ params, ...caller }) => {
        const admin = deps.admin(caller);
        const account = await admin.account(params.name);
        return admin.audited('session.kick', account.name, async () => ({ kicked: await sessions.kick({ user: account.name }, KICK_REASON) }));
      },
    }),
  ];
}
