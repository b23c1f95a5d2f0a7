/**
 * The admin API's response bodies as zod schemas: each route declares the
 * one it answers with (api-route.ts), the handler's return type is checked
 * against it at compile time, and the OpenAPI document publishes it
 * (openapi.ts). Only JSON-representable types (no dates: times are ISO 8601
 * strings), so the published JSON Schema says exactly what the zod one does.
 */
import { z } from 'zod';
import { sessionInfoSchema } from '../../net/live-sessions.js';

const count = z.number().int().min(0);
/** An ISO 8601 time. */
const isoTime = z.string();
/** The cursor of the next page, or null on the last one (paging.ts). */
const next = z.string().nullable();

/** An account as lists show it. */
export const accountSummarySchema = z.object({
  name: z.string(),
  created: isoTime,
  disabled: z.boolean(),
  lastLogin: z.object({ at: isoTime, protocol: z.string(), address: z.string() }).nullable(),
});

/** Quota limits (null: unlimited; storage in octets). */
export const quotaLimitsSchema = z.object({ storage: count.nullable(), messages: count.nullable() });

/** Quota limits and what the live messages use. */
export const quotaUsageSchema = quotaLimitsSchema.extend({ usedStorage: count, usedMessages: count });

/** One account in full. */
export const accountDetailSchema = accountSummarySchema.extend({
  quota: quotaUsageSchema,
  mailboxes: z.array(z.object({ name: z.string(), specialUse: z.string().nullable(), messages: count, unseen: count, size: count })),
  aliases: z.array(z.string()),
});

/** An account after a change that ended its sessions. */
export const accountChangedSchema = accountSummarySchema.extend({ sessionsEnded: count });

/** An alias and its account. */
export const aliasSchema = z.object({ address: z.string(), user: z.string() });

/** A process that answered a session listing. */
const responderSchema = z.object({ node: z.string(), worker: count });

/** Live sessions, the processes that answered, and the processes of live nodes that did not answer in time. */
export const sessionListingSchema = z.object({
  sessions: z.array(sessionInfoSchema.extend(responderSchema.shape)),
  answered: z.array(responderSchema),
  missing: z.array(responderSchema),
});

/** How many sessions a kick ended. */
export const kickedSchema = z.object({ kicked: count });

/** One audit log entry. */
export const auditEntrySchema = z.object({
  id: z.number().int(),
  at: isoTime,
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  address: z.string(),
  outcome: z.string(),
});

/** A page of the audit log. */
export const auditPageSchema = z.object({ entries: z.array(auditEntrySchema), next });

/** A page of accounts. */
export const accountPageSchema = z.object({ accounts: z.array(accountSummarySchema), next });

const certificateSchema = z.object({
  default: z.boolean(),
  source: z.enum(['file', 'self-signed', 'acme']),
  names: z.array(z.string()),
  issuer: z.string(),
  notAfter: isoTime,
  fingerprint256: z.string(),
  certFile: z.string(),
  keyFile: z.string(),
  acme: z
    .object({
      renewAt: isoTime.nullable(),
      lastSuccess: isoTime.nullable(),
      lastError: z.object({ time: isoTime, type: z.string(), detail: z.string(), status: z.number().int().nullable() }).nullable(),
    })
    .nullable(),
});

/** What GET /server answers (server-report.ts builds all but `storage` and `nodes`). */
export const serverSchema = z.object({
  version: z.string(),
  node: z.string(),
  hostname: z.string(),
  startedAt: isoTime,
  uptimeSeconds: count,
  listeners: z.array(z.object({ name: z.string(), port: z.number().int(), host: z.string() })),
  certificates: z.object({
    certificates: z.array(certificateSchema),
    selfSignedPending: z.string().nullable(),
    problems: z.array(z.object({ file: z.string(), problem: z.string() })),
  }),
  store: z.object({ kind: z.enum(['sqlite', 'postgresql']), dataDir: z.string() }),
  processes: z.array(z.object({ pid: z.number().int(), role: z.enum(['worker', 'single']), memoryRss: count })),
  workers: z
    .object({
      self: z.number().int(),
      list: z.array(z.object({ slot: z.number().int(), pid: z.number().int(), startedAt: isoTime, uptimeSeconds: count, crashes: count })),
    })
    .nullable(),
  storage: z.object({ databaseBytes: count, blobBytes: count }),
  /** The live nodes (server/node-heartbeat.ts): on SQLite only this machine's. */
  nodes: z.array(z.object({ name: z.string(), workers: count, started: isoTime, lastHeartbeat: isoTime })),
});
