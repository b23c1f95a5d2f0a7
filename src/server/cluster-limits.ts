/**
 * The connection limits and the login throttle's counts of `mailkeep serve
 * --workers N`, held by the primary for every worker (issue 21), so a client
 * gets `max-connections-per-ip` connections and `max-failures-per-ip` login
 * failures in all, whichever workers its connections land in.
 *
 * A worker asks the primary over the cluster IPC channel, each question with
 * an id its answer repeats: a lease for every accepted connection (given back
 * when it closes) and, for every login attempt, its admission and its outcome
 * (the in-memory ledger of auth/attempt-ledger.ts, run by the primary with
 * the same settings). The primary remembers which leases and attempts in
 * flight each worker holds and drops them when that worker exits: a killed
 * worker's connections are gone, its unfinished attempts end as abandoned.
 *
 * Invariants: an accept or a login admission waits at most PRIMARY_WAIT_MS
 * for the primary; past it (or without a primary, or with MAX_PENDING
 * questions waiting) the worker's own count decides, as a single process
 * would: fail safe, never hang. A lease or admission the primary grants too
 * late is given back (the return, the abandon), so nothing leaks there. The
 * primary answers from memory at once, in arrival order on each worker's
 * one pipe, so a return always follows its lease. Its tables are bounded:
 * leases by `max-connections`, attempts in flight by the connections making
 * them, the failure counts by `[auth-throttle] max-entries`.
 */
import { z } from 'zod';
import {
  type AttemptCounts,
  type AttemptKey,
  type AttemptLedger,
  type AttemptOutcome,
  type Judgement,
  type MemoryAttemptLedger,
  pairKey,
} from '../auth/attempt-ledger.js';
import { memoryLedger } from '../auth/throttle.js';
import type { Config } from '../config/schema.js';
import { type ConnectionAdmission, type ConnectionGate, ConnectionLimiter } from '../net/connection-limiter.js';

/** Longest wait for the primary's answer before a worker decides alone (it answers in well under a millisecond). */
const PRIMARY_WAIT_MS = 1000;
/** Questions waiting at most; more decide alone at once (each stands for a connection or a login). */
const MAX_PENDING = 10_000;

const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().min(0);
const attemptKey = z.object({ ip: z.string().max(256), account: z.string().max(1024) });
const countsSchema = z.object({
  ipFailures: count,
  ipInFlight: count,
  accountFailures: count,
  pairFailures: count,
  pairInFlight: count,
  trusted: z.boolean(),
});

/** What a worker tells or asks the primary; a lease's or attempt's later messages carry its id. */
const requestSchema = z.discriminatedUnion('op', [
  /** A connection from `address` was accepted: may it stay? Answered with `refusal`. */
  z.object({ mailkeep: z.literal('limits'), op: z.literal('lease'), id, address: z.string().max(256) }),
  /** The connection of lease `id` closed (or was refused here): its slot is free. */
  z.object({ mailkeep: z.literal('limits'), op: z.literal('return'), id }),
  /** May login attempt `id` proceed? Answered with `verdict`; when admitted it counts as in flight. */
  z.object({ mailkeep: z.literal('limits'), op: z.literal('admit'), id, key: attemptKey, now: count }),
  /** Admitted attempt `id` ended. Answered with the `counts` after it (the tarpit reads them). */
  z.object({ mailkeep: z.literal('limits'), op: z.literal('settle'), id, now: count, outcome: z.enum(['failed', 'succeeded', 'abandoned']) }),
  /** The worker stopped waiting for attempt `id`'s admission: if it was admitted after all, it ends as abandoned. */
  z.object({ mailkeep: z.literal('limits'), op: z.literal('abandon'), id }),
]);
type LimitsRequest = z.infer<typeof requestSchema>;

const replySchema = z.object({
  mailkeep: z.literal('limits-reply'),
  id,
  refusal: z.string().max(256).nullable().optional(),
  verdict: z.object({ admit: z.boolean(), wait: z.boolean(), clean: z.boolean() }).optional(),
  counts: countsSchema.optional(),
});
/** The primary's answer to a lease, admit or settle. */
export type LimitsReply = z.infer<typeof replySchema>;

/** Whether an IPC message is a worker's limits message (then the primary hands it to PrimaryLimits). */
export function isLimitsRequest(raw: unknown): boolean {
  return (raw as { mailkeep?: unknown } | null)?.mailkeep === 'limits';
}

/** What one worker holds at the primary. */
interface Held {
  leases: Map<number, string>;
  attempts: Map<number, AttemptKey>;
}

/** The primary's end: the cluster's counts, and what each worker holds of them. */
export class PrimaryLimits {
  private readonly connections: ConnectionLimiter;
  private readonly ledger: MemoryAttemptLedger;
  /** By cluster worker id (unique per fork, so a restarted slot starts clean). */
  private readonly workers = new Map<number, Held>();

  constructor(config: Pick<Config, 'limits' | 'authThrottle'>) {
    this.connections = new ConnectionLimiter(config.limits.maxConnections, config.limits.maxConnectionsPerIp);
    this.ledger = memoryLedger(config.authThrottle);
  }

  /** A worker was forked: its messages count from now on. */
  join(worker: number): void {
    this.workers.set(worker, { leases: new Map(), attempts: new Map() });
  }

  /** A worker exited: its connections are gone and its attempts in flight abandoned; its late messages are ignored. */
  leave(worker: number): void {
    const held = this.workers.get(worker);
    if (held === undefined) return;
    this.workers.delete(worker);
    for (const address of held.leases.values()) this.connections.release(address);
    const now = Date.now();
    for (const key of held.attempts.values()) void this.ledger.settle(key, now, 'abandoned');
  }

  /** Handles one message of a worker; resolves to the answer to send back, or null when none is due. */
  async handle(worker: number, raw: unknown): Promise<LimitsReply | null> {
    const held = this.workers.get(worker);
    const parsed = requestSchema.safeParse(raw);
    if (held === undefined || !parsed.success) return null;
    const request = parsed.data;
    const reply = { mailkeep: 'limits-reply' as const, id: request.id };
    switch (request.op) {
      case 'lease': {
        const refusal = this.connections.acquire(request.address);
        if (refusal === null) held.leases.set(request.id, request.address);
        return { ...reply, refusal };
      }
      case 'return':
        this.release(held, request.id);
        return null;
      case 'admit': {
        // The ledger's steps are synchronous: this admission is counted before the next message is read.
        const verdict = await this.ledger.admit(request.key, request.now);
        if (verdict.admit) held.attempts.set(request.id, request.key);
        return { ...reply, verdict };
      }
      case 'settle': {
        const key = held.attempts.get(request.id);
        if (key === undefined) return null;
        held.attempts.delete(request.id);
        return { ...reply, counts: await this.ledger.settle(key, request.now, request.outcome) };
      }
      case 'abandon': {
        const key = held.attempts.get(request.id);
        if (key !== undefined) {
          held.attempts.delete(request.id);
          await this.ledger.settle(key, Date.now(), 'abandoned');
        }
        return null;
      }
    }
  }

  private release(held: Held, lease: number): void {
    const address = held.leases.get(lease);
    if (address === undefined) return;
    held.leases.delete(lease);
    this.connections.release(address);
  }
}

/** A worker's questions to the primary, each answered or given up on within PRIMARY_WAIT_MS. */
class PrimaryChannel {
  private readonly pending = new Map<number, (reply: LimitsReply | null) => void>();
  private lastId = 0;

  constructor() {
    process.on('message', (raw) => {
      if ((raw as { mailkeep?: unknown } | null)?.mailkeep !== 'limits-reply') return;
      const parsed = replySchema.safeParse(raw);
      if (parsed.success) this.pending.get(parsed.data.id)?.(parsed.data);
    });
  }

  /** A new id for a lease or an attempt. */
  nextId(): number {
    return ++this.lastId;
  }

  /** The primary's answer, or null when it gives none in time (or cannot be asked). */
  ask(request: LimitsRequest): Promise<LimitsReply | null> {
    if (!process.connected || this.pending.size >= MAX_PENDING) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(null), PRIMARY_WAIT_MS);
      const settle = (reply: LimitsReply | null): void => {
        clearTimeout(timer);
        this.pending.delete(request.id);
        resolve(reply);
      };
      this.pending.set(request.id, settle);
      this.tell(request);
    });
  }

  /** Sends a message that needs no answer; a worker whose channel closed is stopping anyway. */
  tell(request: LimitsRequest): void {
    if (process.connected) process.send?.(request);
  }
}

/** Connection slots leased from the primary; this worker's own count is the fallback and a lower bound. */
class LeasedConnections implements ConnectionGate {
  constructor(
    private readonly primary: PrimaryChannel,
    private readonly local: ConnectionLimiter,
  ) {}

  async admit(address: string): Promise<ConnectionAdmission> {
    // This worker's connections are among the cluster's: over the limits here is over them there.
    const refusal = this.local.acquire(address);
    if (refusal !== null) return { refusal };
    const id = this.primary.nextId();
    const reply = await this.primary.ask({ mailkeep: 'limits', op: 'lease', id, address });
    if (typeof reply?.refusal === 'string') {
      this.local.release(address);
      return { refusal: reply.refusal };
    }
    // Granted, or no answer in time: then the local count alone decided, and the return undoes a late lease.
    return {
      release: () => {
        this.local.release(address);
        this.primary.tell({ mailkeep: 'limits', op: 'return', id });
      },
    };
  }
}

/** Login attempts counted by the primary; while it is silent, by this worker's own ledger. */
class PrimaryAttemptLedger implements AttemptLedger {
  /** Attempts the primary admitted, by pair key (attempts with one key count alike, so any of their ids will do); the others are the local ledger's. */
  private readonly atPrimary = new Map<string, number[]>();

  constructor(
    private readonly primary: PrimaryChannel,
    private readonly local: AttemptLedger,
  ) {}

  async admit(key: AttemptKey, now: number): Promise<Judgement> {
    const id = this.primary.nextId();
    const reply = await this.primary.ask({ mailkeep: 'limits', op: 'admit', id, key, now });
    if (!reply?.verdict) {
      this.primary.tell({ mailkeep: 'limits', op: 'abandon', id });
      return this.local.admit(key, now);
    }
    if (reply.verdict.admit) {
      const pair = pairKey(key);
      const ids = this.atPrimary.get(pair);
      if (ids === undefined) this.atPrimary.set(pair, [id]);
      else ids.push(id);
    }
    return reply.verdict;
  }

  async settle(key: AttemptKey, now: number, outcome: AttemptOutcome): Promise<AttemptCounts> {
    const pair = pairKey(key);
    const ids = this.atPrimary.get(pair);
    const id = ids?.shift();
    if (id === undefined) return this.local.settle(key, now, outcome);
    if (ids!.length === 0) this.atPrimary.delete(pair);
    // A late answer still counts there (the message is on its way); only this answer's tarpit delay is skipped.
    const reply = await this.primary.ask({ mailkeep: 'limits', op: 'settle', id, now, outcome });
    return reply?.counts ?? NO_COUNTS;
  }
}

/** Counts that ask for no tarpit delay. */
const NO_COUNTS: AttemptCounts = { ipFailures: 0, ipInFlight: 0, accountFailures: 0, pairFailures: 0, pairInFlight: 0, trusted: false };

/** A worker's end: the connection gate and the attempt ledger its listeners and throttle use. */
export class WorkerLimits {
  readonly connections: ConnectionGate;
  readonly attempts: AttemptLedger;

  constructor(config: Pick<Config, 'limits' | 'authThrottle'>) {
    const primary = new PrimaryChannel();
    this.connections = new LeasedConnections(primary, new ConnectionLimiter(config.limits.maxConnections, config.limits.maxConnectionsPerIp));
    this.attempts = new PrimaryAttemptLedger(primary, memoryLedger(config.authThrottle));
  }
}
