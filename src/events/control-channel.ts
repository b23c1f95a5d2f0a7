/**
 * The control channel: the change bus's sibling for what is not a mailbox
 * change (issue 21). Typed messages travel between the worker processes of
 * one server (cluster IPC through the primary, peer-link.ts) and between
 * nodes on one PostgreSQL database (NOTIFY on its own channel, pg-control.ts).
 *
 * Delivery guarantees (docs/design-notes.md "Control channel"):
 * - broadcast: at most once per process, in order per sender on each path;
 *   the sender's own process handles its message synchronously, before
 *   broadcast() returns. A process that is down or restarting (or a node whose
 *   LISTEN connection is reconnecting) misses what was sent meanwhile, so a
 *   message may only ever make state safer when it arrives, never be the only
 *   guard: the credential cache still checks the stored hash on every login.
 * - A message arriving by two paths (IPC and NOTIFY) is handled once: every
 *   message carries a random id, remembered for the last SEEN_IDS messages.
 * - request: asks every process of every node when the store joins nodes
 *   (NOTIFY), otherwise the sibling workers of this node (IPC), and gathers
 *   the replies that arrive before the timeout (or until every sibling gave
 *   its last part, on IPC, or the asker says it has enough, e.g. every live
 *   node's workers answered, server-control.ts). Each reply names
 *   its node and worker; a long answer comes in parts (NOTIFY's 8000 bytes),
 *   the last one marked, so the asker knows who answered in full.
 *
 * Invariants: incoming messages are parsed against the schema (a NOTIFY may
 * come from anyone with database access) and bounded in size; a throwing
 * handler never stops the others.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { PeerLink } from './peer-link.js';

/** Longest reason text a kick carries (it becomes a BYE line). */
const MAX_REASON = 200;
/** Message ids remembered to drop the second copy of a message. */
const SEEN_IDS = 4096;
/** Sessions in one reply part at most. */
const MAX_SESSIONS_PER_REPLY = 100_000;

const accountId = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const requestId = z.string().max(64);
/** Which sessions a request concerns: every given field must match. */
const sessionFilter = z.object({ id: z.string().max(64).optional(), user: z.string().max(1024).optional(), protocol: z.string().max(16).optional() });
/** Who answers: the node's name, the worker's slot (0: a single process), and whether this part is its last. */
const responder = { requestId, node: z.string().max(256), worker: z.number().int().min(0), last: z.boolean() };

/** Every message the channel carries. */
const messageSchema = z.discriminatedUnion('type', [
  /** A password, app password or the account's state changed, or it was deleted: drop cached verifications. */
  z.object({ type: z.literal('credentials-changed'), accountId }),
  /** End the sessions of an account (optionally only those logged in with one credential kind or id). */
  z.object({ type: z.literal('kick'), accountId, credential: z.string().max(200).optional(), reason: z.string().max(MAX_REASON) }),
  /** An ACME challenge added (or removed: null) by the worker running ACME: every sibling must answer the CA. */
  z.object({
    type: z.literal('acme-challenge'),
    change: z.discriminatedUnion('challenge', [
      z.object({ challenge: z.literal('http-01'), token: z.string().max(1024), keyAuthorization: z.string().max(1024).nullable() }),
      z.object({
        challenge: z.literal('tls-alpn-01'),
        name: z.string().max(1024),
        pems: z.object({ key: z.string().max(16384), cert: z.string().max(16384) }).nullable(),
      }),
    ]),
  }),
  /** Asks the other processes for (at most `limit` of) their live sessions matching a filter. */
  z.object({ type: z.literal('sessions-request'), requestId, filter: sessionFilter, limit: z.number().int().min(1).max(MAX_SESSIONS_PER_REPLY) }),
  /** Part of one process's live sessions, in answer to a request (server-control.ts checks each session's shape). */
  z.object({ type: z.literal('sessions-reply'), ...responder, sessions: z.array(z.record(z.string(), z.unknown())).max(MAX_SESSIONS_PER_REPLY) }),
  /** Asks the other processes to end the sessions matching a filter (one session by id, a user's, a protocol's). */
  z.object({ type: z.literal('kick-sessions-request'), requestId, filter: sessionFilter, reason: z.string().max(MAX_REASON) }),
  /** How many sessions one process ended, in answer to a kick request. */
  z.object({ type: z.literal('kick-sessions-reply'), ...responder, kicked: z.number().int().min(0) }),
]);

/** A message of the control channel. */
export type ControlMessage = z.infer<typeof messageSchema>;
/** The message types a handler can be registered for. */
export type ControlType = ControlMessage['type'];
/** The message of one type. */
export type ControlOf<T extends ControlType> = Extract<ControlMessage, { type: T }>;

/** What travels: the message with its id (for deduplication) and the sending worker's slot. */
interface Envelope {
  id: string;
  from: number;
  message: ControlMessage;
}

const envelopeSchema = z.object({ id: z.string().max(64), from: z.number().int().min(0), message: messageSchema });

/** Requests a worker asks its siblings, and the type of their replies. */
const REPLIES = { 'sessions-request': 'sessions-reply', 'kick-sessions-request': 'kick-sessions-reply' } as const;
/** A request type. */
export type RequestType = keyof typeof REPLIES;
/** The reply type of a request type. */
export type ReplyOf<T extends RequestType> = ControlOf<(typeof REPLIES)[T]>;
const REPLY_TYPES: ReadonlySet<ControlType> = new Set(Object.values(REPLIES));

/** A new envelope for a message sent by worker `from` (0: a process outside any cluster, such as the CLI). */
function envelopeOf(message: ControlMessage, from: number): Envelope {
  return { id: randomBytes(9).toString('base64url'), from, message: messageSchema.parse(message) };
}

/** The payload that announces `message` to every node (the PostgreSQL store sends it after an account's credentials change). */
export function nodePayload(message: ControlMessage): string {
  return JSON.stringify(envelopeOf(message, 0));
}

/** Messages between nodes; the PostgreSQL store offers one (pg-control.ts). */
export interface NodeChannel {
  /** Starts listening; `onPayload` receives every payload sent by any node, this one included. */
  start(onPayload: (payload: string) => void): Promise<void>;
  send(payload: string): Promise<void>;
  close(): Promise<void>;
}

/** How a message arrived: handled here first, from a sibling worker (IPC), or from a node (NOTIFY). */
type Path = 'self' | 'link' | 'node';

/** How long a request waits at most, and when the asker has enough before that. */
export interface RequestOptions<R> {
  timeoutMs: number;
  enough?: (replies: readonly R[]) => boolean;
}

/** Types that also go to other nodes: what concerns an account wherever it is logged in. */
const NODE_WIDE: ReadonlySet<ControlType> = new Set(['credentials-changed', 'kick']);

/** One process's end of the control channel. */
export class ControlChannel {
  private readonly handlers = new Map<ControlType, Array<(m: ControlMessage) => void>>();
  private readonly seen = new Set<string>();
  private readonly waiting = new Map<string, (m: ControlMessage) => void>();
  private node: NodeChannel | null = null;
  /** The envelope being handled and its path (answer() replies the way it came). */
  private current: { envelope: Envelope; path: Path } | null = null;

  /** `link`: the sibling workers (absent in a single process); `onError` receives handler and transport errors. */
  constructor(
    private readonly link: PeerLink | null,
    private readonly onError: (err: unknown) => void,
  ) {
    link?.onMessage((m) => {
      if (m.kind === 'control') this.receive(m.message, 'link');
    });
  }

  /** Joins the other nodes (PostgreSQL NOTIFY). */
  async attachNodes(node: NodeChannel): Promise<void> {
    await node.start((payload) => {
      try {
        this.receive(JSON.parse(payload), 'node');
      } catch (err) {
        this.onError(err);
      }
    });
    this.node = node;
  }

  /** Registers a handler for one message type. */
  on<T extends ControlType>(type: T, handler: (message: ControlOf<T>) => void): void {
    const list = this.handlers.get(type) ?? [];
    list.push(handler as (m: ControlMessage) => void);
    this.handlers.set(type, list);
  }

  /** Handles the message here and sends it to every sibling worker (and, for account-wide types, every node). */
  broadcast(message: ControlMessage): void {
    const envelope = envelopeOf(message, this.link?.self ?? 0);
    this.receive(envelope, 'self');
    this.link?.send({ kind: 'control', from: envelope.from, message: envelope });
    if (this.node && NODE_WIDE.has(message.type)) this.node.send(JSON.stringify(envelope)).catch(this.onError);
  }

  /**
   * Asks every other process (of every node when the nodes are joined, else the sibling workers) and
   * gathers the reply parts carrying the same requestId until the timeout, until `enough` says so, or
   * (siblings only) until each sibling sent its last part. Alone: no replies.
   */
  async request<T extends RequestType>(message: ControlOf<T>, opts: RequestOptions<ReplyOf<T>>): Promise<ReplyOf<T>[]> {
    const { node, link } = this;
    const siblings = link ? link.workers - 1 : 0;
    if ((!node && siblings === 0) || opts.enough?.([])) return [];
    const { type, requestId } = message as ControlOf<RequestType>;
    const replyType = REPLIES[type];
    const replies: ReplyOf<T>[] = [];
    let finished = 0;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, opts.timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiting.set(requestId, (m) => {
        if (m.type !== replyType) return;
        replies.push(m as ReplyOf<T>);
        if ((m as ReplyOf<RequestType>).last) finished++;
        // Over NOTIFY only the asker knows whom to expect (the live nodes' table): its `enough`, or the timeout, ends the wait.
        if (opts.enough?.(replies) || (!node && finished >= siblings)) done();
      });
      const envelope = envelopeOf(message as ControlMessage, link?.self ?? 0);
      if (node) node.send(JSON.stringify(envelope)).catch(this.onError);
      else link?.send({ kind: 'control', from: envelope.from, message: envelope });
    });
    this.waiting.delete(requestId);
    return replies;
  }

  /** Answers another process's request: `reply` runs here and its parts go back the way the request came. */
  answer<T extends RequestType>(type: T, reply: (m: ControlOf<T>) => ReplyOf<T>[]): void {
    this.on(type, (m) => {
      const current = this.current;
      // This process's own request, echoed by NOTIFY: the asker answers for itself.
      if (!current || current.path === 'self' || this.waiting.has((m as ControlOf<RequestType>).requestId)) return;
      const from = this.link?.self ?? 0;
      for (const part of reply(m)) {
        const envelope = envelopeOf(part, from);
        if (current.path === 'node') this.node?.send(JSON.stringify(envelope)).catch(this.onError);
        else this.link?.send({ kind: 'control', from, to: current.envelope.from, message: envelope });
      }
    });
  }

  /** Stops hearing other nodes. */
  async close(): Promise<void> {
    await this.node?.close();
    this.node = null;
  }

  private receive(raw: unknown, path: Path): void {
    const parsed = envelopeSchema.safeParse(raw);
    if (!parsed.success) {
      this.onError(new Error(`control channel: malformed message dropped (${parsed.error.issues[0]?.message ?? 'invalid'})`));
      return;
    }
    const envelope = parsed.data;
    if (this.seen.has(envelope.id)) return;
    this.seen.add(envelope.id);
    if (this.seen.size > SEEN_IDS) this.seen.delete(this.seen.values().next().value!);
    const message = envelope.message;
    if (REPLY_TYPES.has(message.type) && 'requestId' in message) {
      this.waiting.get(message.requestId)?.(message);
      return;
    }
    this.current = { envelope, path };
    try {
      for (const handler of this.handlers.get(message.type) ?? []) {
        try {
          handler(message);
        } catch (err) {
          this.onError(err);
        }
      }
    } finally {
      this.current = null;
    }
  }
}
