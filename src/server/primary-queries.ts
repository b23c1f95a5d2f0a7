/**
 * Questions a cluster worker asks its primary over the cluster IPC channel,
 * for what only the primary knows: every worker's metrics (prom-client's
 * AggregatorRegistry asks each worker, metrics/cluster-metrics.ts) and the
 * list of workers (slot, pid, uptime). In cluster mode the primary runs no
 * listener, so the worker whose admin listener got the request asks.
 *
 * Invariants: every question is answered or fails within ASK_TIMEOUT_MS (the
 * primary's aggregation itself gives up on a silent worker after 5 s); pending
 * questions are bounded by MAX_PENDING; a worker without a primary (IPC
 * channel closed) gets an error at once.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { MetricsText } from '../metrics/cluster-metrics.js';

/** Longer than prom-client's own 5 s limit on the primary's aggregation, so its error reaches us. */
const ASK_TIMEOUT_MS = 7000;
/** Questions in flight at most (scrapes and admin requests are few). */
const MAX_PENDING = 256;

/** One worker as the primary sees it. */
export interface WorkerInfo {
  slot: number;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  /** Crashes of this slot in a row (0 after a stable run). */
  crashes: number;
}

/** What a worker may ask. */
export type Question = 'metrics' | 'workers';

const askSchema = z.object({ mailkeep: z.literal('ask'), id: z.string().max(64), question: z.enum(['metrics', 'workers']) });
const answerSchema = z.object({
  mailkeep: z.literal('answer'),
  id: z.string().max(64),
  error: z.string().optional(),
  metrics: z.object({ contentType: z.string(), text: z.string() }).optional(),
  workers: z.array(z.object({ slot: z.number(), pid: z.number(), startedAt: z.string(), uptimeSeconds: z.number(), crashes: z.number() })).optional(),
});
/** A question as it travels from a worker. */
export type Ask = z.infer<typeof askSchema>;
/** An answer as it travels back. */
export type Answer = z.infer<typeof answerSchema>;

/** The `mailkeep` tag of an IPC message, checked before any schema: a failed safeParse builds an error, and the bus relay's messages pass here by the thousand. */
const tagOf = (raw: unknown): unknown => (raw as { mailkeep?: unknown } | null)?.mailkeep;

/** Whether an IPC message is a worker's question. */
export function isAsk(raw: unknown): raw is Ask {
  return tagOf(raw) === 'ask' && askSchema.safeParse(raw).success;
}

/** The primary's answers (cluster-primary.ts). */
export interface PrimaryAnswers {
  metrics(): Promise<MetricsText>;
  workers(): WorkerInfo[];
}

/** Answers one question; errors travel back as text. */
export async function answer(ask: Ask, answers: PrimaryAnswers): Promise<Answer> {
  try {
    if (ask.question === 'metrics') return { mailkeep: 'answer', id: ask.id, metrics: await answers.metrics() };
    return { mailkeep: 'answer', id: ask.id, workers: answers.workers() };
  } catch (err) {
    return { mailkeep: 'answer', id: ask.id, error: err instanceof Error ? err.message : String(err) };
  }
}

/** A worker's end: asks the primary and waits for its answer. */
export class PrimaryLink {
  private readonly pending = new Map<string, (a: Answer) => void>();

  constructor() {
    process.on('message', (raw) => {
      if (tagOf(raw) !== 'answer') return;
      const parsed = answerSchema.safeParse(raw);
      if (parsed.success) this.pending.get(parsed.data.id)?.(parsed.data);
    });
  }

  /** Every worker's metrics, merged by the primary. */
  async metrics(): Promise<MetricsText> {
    const a = await this.ask('metrics');
    if (!a.metrics) throw new Error('the primary sent no metrics');
    return a.metrics;
  }

  /** The workers the primary runs. */
  async workers(): Promise<WorkerInfo[]> {
    return (await this.ask('workers')).workers ?? [];
  }

  private ask(question: Question): Promise<Answer> {
    if (!process.connected || !process.send) return Promise.reject(new Error('no primary'));
    if (this.pending.size >= MAX_PENDING) return Promise.reject(new Error('too many questions to the primary in flight'));
    const id = randomBytes(9).toString('base64url');
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => settle(new Error(`the primary did not answer within ${ASK_TIMEOUT_MS} ms`)), ASK_TIMEOUT_MS);
      const settle = (result: Answer | Error): void => {
        clearTimeout(timer);
        this.pending.delete(id);
        if (result instanceof Error) reject(result);
        else if (result.error !== undefined) reject(new Error(result.error));
        else resolve(result);
      };
      this.pending.set(id, settle);
      process.send?.({ mailkeep: 'ask', id, question } satisfies Ask);
    });
  }
}
