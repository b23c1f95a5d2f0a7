/**
 * /api/v1/accounts, aliases and quotas: the CLI's `user`, `alias` and `quota`
 * commands over HTTP, through the same validation and audit
 * (auth/administration.ts). A password change, a disable and a delete end
 * the account's live sessions at once (new logins see the change anyway: the
 * credential cache is keyed by the stored hash, auth/credential-cache.ts).
 */
import { z } from 'zod';
import { AdminError, type Administration, type AdminStoreRoles, MAX_PASSWORD } from '../../auth/administration.js';
import type { Account } from '../../store/types.js';
import { ApiError, type AnyRoute, route } from './api-route.js';
import {
  accountChangedSchema,
  accountDetailSchema,
  accountPageSchema,
  accountSummarySchema,
  aliasSchema,
  quotaLimitsSchema,
  quotaUsageSchema,
} from './api-schemas.js';
import { fromCursor, page, pageQuery } from './paging.js';
import type { SessionDirectory } from './session-directory.js';

/** What the account routes use. */
export interface AccountRouteDeps {
  store: AdminStoreRoles;
  sessions: SessionDirectory;
  /** Administration acting as the request's token, from its address. */
  admin(caller: { token: string; address: string }): Administration;
}

/** What a kicked client is told. */
export const KICK_REASON = 'Session ended by the administrator';

const name = z.object({ name: z.string().min(1).max(1024) });
const limit = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.null()]);

/** An account as lists show it. */
function summary(a: Account) {
  return {
    name: a.name,
    created: a.createdAt.toISOString(),
    disabled: a.disabled,
    lastLogin: a.lastLogin ? { at: a.lastLogin.at.toISOString(), protocol: a.lastLogin.protocol, address: a.lastLogin.address } : null,
  };
}

/** The account routes. */
/** More sessions than one account may hold (limits.max-connections-per-ip and more): the count a disable reports. */
const MAX_COUNTED_SESSIONS = 100_000;

export function accountRoutes(deps: AccountRouteDeps): AnyRoute[] {
  const { store, sessions } = deps;
  const endSessions = (user: string): Promise<number> => sessions.kick({ user }, KICK_REASON);
  return [
    route({
      method: 'GET',
      path: '/accounts',
      tag: 'accounts',
      summary: 'List accounts by name (paged; `q` filters by a substring of the name, case-insensitively)',
      query: pageQuery.extend({ q: z.string().max(255).optional() }),
      response: accountPageSchema,
      handler: async ({ query }) => {
        const fetched = await store.accountPage(fromCursor(query.cursor) ?? null, query.limit + 1, query.q ?? null);
        const { items, next } = page(fetched, query.limit, (a) => a.name.toLowerCase());
        return { accounts: items.map(summary), next };
      },
    }),
    route({
      method: 'POST',
      path: '/accounts',
      tag: 'accounts',
      summary: 'Create an account with its INBOX and default mailboxes',
      body: z.object({ name: z.string().max(1024), password: z.string().max(MAX_PASSWORD) }),
      status: 201,
      errors: [409],
      response: accountSummarySchema,
      handler: async ({ body, ...caller }) => summary(await deps.admin(caller).createAccount(body.name, body.password)),
    }),
    route({
      method: 'GET',
      path: '/accounts/{name}',
      tag: 'accounts',
      summary: 'Show an account: state, last login, quota and usage, mailboxes with message counts and sizes, aliases',
      params: name,
      errors: [404],
      response: accountDetailSchema,
      handler: async ({ params, ...caller }) => {
        const admin = deps.admin(caller);
        const account = await admin.account(params.name);
        const quota = await store.getQuotaUsage(account.id);
        const mailboxes = [];
        // Bounded by limits.max-mailboxes-per-account.
        for (const mb of await store.listMailboxes(account.id)) {
          const c = await store.mailboxCounts(account.id, mb.id);
          mailboxes.push({ name: mb.name, specialUse: mb.specialUse, messages: c.messages, unseen: c.unseen, size: c.size });
        }
        const aliases = (await admin.aliases(account.name)).map((a) => a.address);
        return { ...summary(account), quota, mailboxes, aliases };
      },
    }),
    route({
      method: 'PUT',
      path: '/accounts/{name}/password',
      tag: 'accounts',
      summary: "Change an account's password; its live sessions end",
      params: name,
      body: z.object({ password: z.string().max(MAX_PASSWORD) }),
      errors: [404],
      response: accountChangedSchema,
      handler: async ({ params, body, ...caller }) => {
        const account = await deps.admin(caller).setPassword(params.name, body.password);
        return { ...summary(account), sessionsEnded: await endSessions(account.name) };
      },
    }),
    ...(['disable', 'enable'] as const).map((what) =>
      route({
        method: 'POST',
        path: `/accounts/{name}/${what}`,
        tag: 'accounts',
        summary: what === 'disable' ? 'Refuse logins (the mail stays); live sessions end' : 'Allow logins again',
        params: name,
        errors: [404],
        response: accountChangedSchema,
        handler: async ({ params, ...caller }) => {
          const disable = what === 'disable';
          // Counted before the change: the store's notice of it (server/credential-revocation.ts) may end them first.
          const live = disable ? (await sessions.list({ user: params.name }, MAX_COUNTED_SESSIONS)).sessions.length : 0;
          await deps.admin(caller).setDisabled(params.name, disable);
          const account = await deps.admin(caller).account(params.name);
          if (disable) await endSessions(account.name);
          return { ...summary(account), sessionsEnded: live };
        },
      }),
    ),
    route({
      method: 'DELETE',
      path: '/accounts/{name}',
      tag: 'accounts',
      summary: 'Delete an account and all its mail; `confirm` must repeat the name',
      params: name,
      query: z.object({ confirm: z.string().max(1024).optional() }),
      errors: [404],
      response: z.object({ deleted: z.string(), sessionsEnded: z.number().int().min(0) }),
      handler: async ({ params, query, ...caller }) => {
        if (query.confirm !== params.name) throw new ApiError(400, 'confirmation-required', 'repeat the account name in ?confirm= to delete it');
        const account = await deps.admin(caller).deleteAccount(params.name);
        return { deleted: account.name, sessionsEnded: await endSessions(account.name) };
      },
    }),
    route({
      method: 'GET',
      path: '/accounts/{name}/quota',
      tag: 'quotas',
      summary: "An account's limits (null: unlimited) and usage; storage in octets",
      params: name,
      errors: [404],
      response: quotaUsageSchema,
      handler: async ({ params, ...caller }) => store.getQuotaUsage((await deps.admin(caller).account(params.name)).id),
    }),
    route({
      method: 'PUT',
      path: '/accounts/{name}/quota',
      tag: 'quotas',
      summary: "Set an account's limits (null: unlimited); a limit left out is kept",
      params: name,
      body: z.object({ storage: limit.optional(), messages: limit.optional() }),
      errors: [404],
      response: quotaLimitsSchema,
      handler: async ({ params, body, ...caller }) => {
        if (body.storage === undefined && body.messages === undefined) throw new AdminError('invalid', 'give storage and/or messages');
        return deps.admin(caller).setQuota(params.name, { storage: body.storage, messages: body.messages });
      },
    }),
    route({
      method: 'GET',
      path: '/aliases',
      tag: 'aliases',
      summary: 'Every alias (an address that delivers into an account), by address; `user` keeps one account’s',
      query: z.object({ user: z.string().max(1024).optional() }),
      errors: [404],
      response: z.object({ aliases: z.array(aliasSchema) }),
      handler: async ({ query, ...caller }) => ({ aliases: await deps.admin(caller).aliases(query.user) }),
    }),
    route({
      method: 'POST',
      path: '/aliases',
      tag: 'aliases',
      summary: 'Deliver mail for an address to an account',
      body: z.object({ address: z.string().max(1024), user: z.string().max(1024) }),
      status: 201,
      errors: [404, 409],
      response: aliasSchema,
      handler: async ({ body, ...caller }) => {
        await deps.admin(caller).addAlias(body.address, body.user);
        return { address: body.address, user: body.user };
      },
    }),
    route({
      method: 'DELETE',
      path: '/aliases/{address}',
      tag: 'aliases',
      summary: 'Remove an alias',
      params: z.object({ address: z.string().min(1).max(1024) }),
      errors: [404],
      response: z.object({ deleted: z.string() }),
      handler: async ({ params, ...caller }) => {
        await deps.admin(caller).deleteAlias(params.address);
        return { deleted: params.address };
      },
    }),
  ];
}
