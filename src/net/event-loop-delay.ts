/**
 * How late the event loop runs (issue 21: publish event-loop delay): Node's
 * perf_hooks.monitorEventLoopDelay histogram, read and reset once a period.
 * Every period's p50/p99/max go to the log at debug level, and the last
 * completed period stays readable (`lastPeriod()`) for metrics; `current()`
 * gives the figures of the period under way.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Logger } from 'pino';

/** Event-loop delay over one period, in milliseconds. */
export interface EventLoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Delays sampled (one per `resolutionMs` while the loop ran). */
  samples: number;
  /** Length of the period, in ms. */
  periodMs: number;
}

/** Options of an EventLoopDelayMonitor. */
export interface EventLoopDelayOptions {
  /** How often the figures are logged and the histogram reset, in ms (default 10 s). */
  periodMs?: number;
  /** Sampling timer of the histogram, in ms (default 10, Node's). */
  resolutionMs?: number;
}

const DEFAULT_PERIOD_MS = 10_000;
const DEFAULT_RESOLUTION_MS = 10;
const NS_PER_MS = 1e6;

/** Samples the event loop's delay for as long as it runs; see the module comment. */
export class EventLoopDelayMonitor {
  private readonly histogram: IntervalHistogram;
  private readonly timer: NodeJS.Timeout;
  private readonly periodMs: number;
  private readonly resolutionMs: number;
  private periodStart = Date.now();
  private last: EventLoopDelay | null = null;

  /** Starts sampling and the periodic log line. */
  constructor(
    private readonly log: Logger,
    opts: EventLoopDelayOptions = {},
  ) {
    this.periodMs = opts.periodMs ?? DEFAULT_PERIOD_MS;
    this.resolutionMs = opts.resolutionMs ?? DEFAULT_RESOLUTION_MS;
    this.histogram = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.histogram.enable();
    // unref: the monitor alone must not keep the process alive.
    this.timer = setInterval(() => this.endPeriod(), this.periodMs).unref();
  }

  /** The figures of the last completed period, or null before the first one ended. */
  lastPeriod(): EventLoopDelay | null {
    return this.last;
  }

  /** The figures of the period under way (since the last reset). */
  current(): EventLoopDelay {
    const h = this.histogram;
    const samples = h.count;
    // Node records each whole sampling interval: the delay is what exceeds the resolution.
    // An empty histogram reports sentinels and a NaN mean: zeros instead.
    const ms = (ns: number): number => (samples === 0 ? 0 : Math.max(0, ns / NS_PER_MS - this.resolutionMs));
    return {
      p50Ms: ms(h.percentile(50)),
      p99Ms: ms(h.percentile(99)),
      maxMs: ms(h.max),
      meanMs: ms(h.mean),
      samples,
      periodMs: Date.now() - this.periodStart,
    };
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }

  private endPeriod(): void {
    this.last = this.current();
    this.histogram.reset();
    this.periodStart = Date.now();
    const { p50Ms, p99Ms, maxMs, samples } = this.last;
    this.log.debug({ eventLoopDelay: { p50Ms: round(p50Ms), p99Ms: round(p99Ms), maxMs: round(maxMs), samples } }, 'event-loop delay');
  }
}

const round = (ms: number): number => Math.round(ms * 100) / 100;
