/**
 * The process's Prometheus metrics (prom-client), one registry per process.
 * The hot path reaches them through the small functions below. What runs per
 * command or per commit adds to plain numbers (HistogramCells, the result
 * counts of CommandMetrics) that the registry reads when scraped: a
 * prom-client child's inc() hashes its labels on every call (about 1 µs
 * here), which a NOOP would notice. Rare events (logins, deliveries) use
 * prom-client counters directly.
 *
 * Invariants:
 * - Label values come from closed sets: protocol and result names fixed
 *   here, command names only from a protocol's command table (anything else
 *   is "other"), mechanisms only from the SASL table. No user name, address
 *   or mailbox name is ever a label value, so the series count is bounded
 *   whatever clients send.
 * - Gauges of live state (connections, IDLE, bytes of live connections) are
 *   computed when scraped, from the sessions the servers registered, so a
 *   connection costs nothing here while it runs.
 */
import { collectDefaultMetrics, Counter, Gauge, type Metric, Registry } from 'prom-client';

/** The protocols that have sessions. */
export type Protocol = 'imap' | 'pop3' | 'lmtp' | 'managesieve';
/** How a command ended: IMAP's tagged status; POP3's +OK, -ERR for a bad command, other -ERR. */
export type CommandResult = 'OK' | 'NO' | 'BAD';
/** How a login attempt ended (auth/login.ts's outcomes). */
export type LoginOutcome = 'succeeded' | 'failed' | 'throttled' | 'busy' | 'unavailable' | 'disabled' | 'app-password-required';
/** How one LMTP recipient's copy ended. */
export type DeliveryOutcome = 'stored' | 'discarded' | 'rejected' | 'over_quota' | 'too_big' | 'failed';

const PROTOCOLS: readonly Protocol[] = ['imap', 'pop3', 'lmtp', 'managesieve'];

/** The registry every mailkeep metric lives in (cluster workers report it to the primary: cluster-metrics.ts). */
export const registry = new Registry();

/** Command latencies: from a few hundred microseconds (NOOP) to a minute (a huge SEARCH, a slow client). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Store commits: an fsync is a millisecond or so on a good disk, seconds on a bad one. */
const COMMIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** One exposed sample: prom-client's shape for values of a metric. */
interface Sample {
  value: number;
  labels: Record<string, string>;
  metricName?: string;
}

/** A histogram kept in plain numbers: observe() is a short scan over the bounds and three adds. */
class HistogramCells {
  /** Per bucket, not cumulative; the last is +Inf. */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    // Prometheus buckets are "less than or equal" (le).
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** The exposition of this histogram under `name` with `labels`: cumulative buckets, +Inf, _sum, _count. */
  samples(name: string, labels: Record<string, string>): Sample[] {
    const out: Sample[] = [];
    let cumulative = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      const le = i < this.bounds.length ? String(this.bounds[i]) : '+Inf';
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
    }
    out.push({ metricName: `${name}_sum`, labels, value: this.sum }, { metricName: `${name}_count`, labels, value: this.count });
    return out;
  }
}

/** Registers a metric whose samples are computed when scraped (summed across cluster workers per series). */
function scraped(name: string, help: string, type: 'counter' | 'histogram', samples: () => Sample[]): void {
  const get = async () => ({ name, help, type, aggregator: 'sum', values: samples() });
  registry.registerMetric({ name, help, type, aggregator: 'sum', get, reset: () => undefined } as unknown as Metric);
}

/** The counts and latencies of one command of one protocol. */
interface CommandCell {
  protocol: Protocol;
  command: string;
  /** Completions by result: OK, NO, BAD. */
  results: Float64Array;
  latency: HistogramCells;
}
/** Every command cell, by "protocol command": shared by the CommandMetrics of every server in the process. */
const commandCells = new Map<string, CommandCell>();
const RESULTS: readonly CommandResult[] = ['OK', 'NO', 'BAD'];

scraped('mailkeep_commands_total', 'Commands completed, by protocol, command and result (OK, NO, BAD)', 'counter', () =>
  [...commandCells.values()].flatMap((c) =>
    RESULTS.map((result, i) => ({ labels: { protocol: c.protocol, command: c.command, result }, value: c.results[i]! })),
  ),
);
scraped('mailkeep_command_duration_seconds', 'Time from a command being read to its answer being queued, by protocol and command', 'histogram', () =>
  [...commandCells.values()].flatMap((c) => c.latency.samples('mailkeep_command_duration_seconds', { protocol: c.protocol, command: c.command })),
);
const logins = new Counter({
  name: 'mailkeep_logins_total',
  help: 'Login attempts by protocol, mechanism and outcome (succeeded, failed, throttled, busy, unavailable, disabled, app-password-required)',
  labelNames: ['protocol', 'mechanism', 'outcome'] as const,
  registers: [registry],
});
const deliveries = new Counter({
  name: 'mailkeep_lmtp_deliveries_total',
  help: 'LMTP recipients after DATA/BDAT, by outcome (stored, discarded or rejected by Sieve, over_quota, too_big, failed)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
const rejections = new Counter({
  name: 'mailkeep_lmtp_rejections_total',
  help: 'LMTP recipients refused at RCPT (unknown user)',
  registers: [registry],
});
const commitCells = { sqlite: new HistogramCells(COMMIT_BUCKETS), postgres: new HistogramCells(COMMIT_BUCKETS) };
scraped('mailkeep_store_commit_duration_seconds', 'Duration of the store write transactions, BEGIN to COMMIT, by store kind', 'histogram', () =>
  Object.entries(commitCells).flatMap(([store, cells]) => cells.samples('mailkeep_store_commit_duration_seconds', { store })),
);

/**
 * Octets a protocol's connections read and wrote: Transport adds to the
 * object of its protocol (net/transport.ts), the counter reads it at scrape.
 * Plain protocol bytes, after TLS and COMPRESS.
 */
export interface Traffic {
  in: number;
  out: number;
}
const traffic: Record<Protocol, Traffic> = { imap: { in: 0, out: 0 }, pop3: { in: 0, out: 0 }, lmtp: { in: 0, out: 0 }, managesieve: { in: 0, out: 0 } };

/** The traffic totals a protocol's connection adds to; with recording off, a throwaway pair of its own. */
export function trafficOf(protocol: Protocol): Traffic {
  return recorders === LIVE ? traffic[protocol] : { in: 0, out: 0 };
}

new Counter({
  name: 'mailkeep_bytes_total',
  help: 'Protocol octets received (in) and sent (out), by protocol',
  labelNames: ['protocol', 'direction'] as const,
  registers: [registry],
  collect() {
    // Totals only grow, so setting the counter to them keeps it monotonic.
    this.reset();
    for (const p of PROTOCOLS) {
      this.inc({ protocol: p, direction: 'in' }, traffic[p].in);
      this.inc({ protocol: p, direction: 'out' }, traffic[p].out);
    }
  },
});

/** What the gauges read of a live session when scraped (net/live-sessions.ts's SessionInfo fits). */
export interface SessionGaugeView {
  protocol: string;
  /** TLS is active (implicit or after STARTTLS). */
  tls: boolean;
  /** The command running now: "IDLE" while an IMAP session idles. */
  command: string | null;
}
/** The session lists of every server in this process (tests run several). */
const sessionSources = new Set<() => Iterable<SessionGaugeView>>();

/** Lets the connection and IDLE gauges read a server's sessions at scrape time; returns the undo. */
export function watchSessions(list: () => Iterable<SessionGaugeView>): () => void {
  sessionSources.add(list);
  return () => sessionSources.delete(list);
}

/** Every live session of every watched server. */
function* liveSessions(): Generator<SessionGaugeView> {
  for (const list of sessionSources) yield* list();
}

new Gauge({
  name: 'mailkeep_connections',
  help: 'Open connections by protocol and TLS state',
  labelNames: ['protocol', 'tls'] as const,
  registers: [registry],
  collect() {
    this.reset();
    // Every combination is reported, zeros included, so a dashboard never sees a series vanish.
    for (const p of PROTOCOLS) for (const tls of ['yes', 'no']) this.set({ protocol: p, tls }, 0);
    for (const s of liveSessions()) {
      const protocol = (PROTOCOLS as readonly string[]).includes(s.protocol) ? s.protocol : 'other';
      this.inc({ protocol, tls: s.tls ? 'yes' : 'no' });
    }
  },
});

new Gauge({
  name: 'mailkeep_idle_sessions',
  help: 'IMAP sessions in IDLE (RFC 2177)',
  registers: [registry],
  collect() {
    let n = 0;
    for (const s of liveSessions()) if (s.protocol === 'imap' && s.command === 'IDLE') n++;
    this.set(n);
  },
});

/** Records each command of a protocol as it completes. */
export interface CommandRecorder {
  /** Records one command; `name` null or unknown counts as "other"; `startedMs` from performance.now(). */
  record(name: string | null, result: CommandResult, startedMs: number): void;
}

/**
 * The recorders of one protocol's commands: a cell per name of its command
 * table, fixed when built, so recording is a map lookup and a few adds.
 */
class CommandMetrics implements CommandRecorder {
  private readonly byName = new Map<string, CommandCell>();
  private readonly other: CommandCell;

  /** `names`: the protocol's command table; anything else is recorded as "other". */
  constructor(protocol: Protocol, names: Iterable<string>) {
    for (const command of [...names, 'other']) {
      const key = `${protocol} ${command}`;
      let cell = commandCells.get(key);
      if (!cell) {
        cell = { protocol, command, results: new Float64Array(RESULTS.length), latency: new HistogramCells(LATENCY_BUCKETS) };
        commandCells.set(key, cell);
      }
      this.byName.set(command, cell);
    }
    this.other = this.byName.get('other')!;
  }

  record(name: string | null, result: CommandResult, startedMs: number): void {
    const cell = (name !== null ? this.byName.get(name) : undefined) ?? this.other;
    cell.results[result === 'OK' ? 0 : result === 'NO' ? 1 : 2]!++;
    cell.latency.observe((performance.now() - startedMs) / 1000);
  }
}

/** What the hot path records beyond commands and bytes. */
interface Recorders {
  login(protocol: string, mechanism: string, outcome: LoginOutcome): void;
  delivery(outcome: DeliveryOutcome): void;
  rejection(): void;
  commit(store: 'sqlite' | 'postgres', startedMs: number): void;
}

const LIVE: Recorders = {
  login: (protocol, mechanism, outcome) => logins.inc({ protocol: PROTOCOLS.includes(protocol as Protocol) ? protocol : 'other', mechanism, outcome }),
  delivery: (outcome) => deliveries.inc({ outcome }),
  rejection: () => rejections.inc(),
  commit: (store, startedMs) => commitCells[store].observe((performance.now() - startedMs) / 1000),
};
const OFF: Recorders = { login: () => {}, delivery: () => {}, rejection: () => {}, commit: () => {} };
const NO_COMMANDS: CommandRecorder = { record: () => {} };

/**
 * The recorder set of this process: chosen by the serving process when it starts (`[admin] metrics`),
 * before it builds its servers — a process serves one configuration. CLI commands keep the default.
 */
let recorders: Recorders = LIVE;

/** Switches recording on or off for this process; off, trafficOf, commandRecorder and the count and time functions below record nothing. */
export function recordMetrics(on: boolean): void {
  recorders = on ? LIVE : OFF;
}

/** The command recorder of a protocol (`names`: its command table); a no-op with recording off. */
export function commandRecorder(protocol: Protocol, names: Iterable<string>): CommandRecorder {
  return recorders === LIVE ? new CommandMetrics(protocol, names) : NO_COMMANDS;
}

/** Records a login attempt; `mechanism` is a SASL mechanism name or "password" (IMAP LOGIN, POP3 USER/PASS). */
export function countLogin(protocol: string, mechanism: string, outcome: LoginOutcome): void {
  recorders.login(protocol, mechanism, outcome);
}

/** Records one LMTP recipient's outcome after the message data. */
export function countDelivery(outcome: DeliveryOutcome): void {
  recorders.delivery(outcome);
}

/** Records one LMTP recipient refused at RCPT. */
export function countRejection(): void {
  recorders.rejection();
}

/** Totals since this process started, for the web admin's dashboard: logins by outcome, LMTP recipients by outcome. */
export interface ActivityTotals {
  logins: Record<string, number>;
  deliveries: Record<string, number>;
  rejections: number;
}

/** A sample line of the counters the dashboard sums: name, labels, value. */
const ACTIVITY_SAMPLE = /^(mailkeep_logins_total|mailkeep_lmtp_deliveries_total|mailkeep_lmtp_rejections_total)(?:\{([^}]*)\})? (\S+)$/;

/**
 * Sums the login and delivery counters of a Prometheus text exposition over their other labels — this
 * process's (metricsText()) or, with several workers, every worker's merged — so the dashboard shows what
 * /metrics shows.
 */
export function activityOf(exposition: string): ActivityTotals {
  const totals: ActivityTotals = { logins: {}, deliveries: {}, rejections: 0 };
  // One line per series: bounded by the counters' closed label sets.
  for (const line of exposition.split('\n')) {
    const sample = ACTIVITY_SAMPLE.exec(line);
    if (!sample) continue;
    const value = Number(sample[3]);
    if (sample[1] === 'mailkeep_lmtp_rejections_total') {
      totals.rejections += value;
      continue;
    }
    const outcome = /(?:^|,)outcome="([^"]*)"/.exec(sample[2] ?? '')?.[1] ?? '';
    const into = sample[1] === 'mailkeep_logins_total' ? totals.logins : totals.deliveries;
    into[outcome] = (into[outcome] ?? 0) + value;
  }
  return totals;
}

/** Records a store write transaction's duration; `startedMs` from performance.now(). */
export function timeCommit(store: 'sqlite' | 'postgres', startedMs: number): void {
  recorders.commit(store, startedMs);
}

let processMetrics = false;

/**
 * Adds prom-client's default process metrics (CPU, memory, heap, GC, handles,
 * and event-loop delay from perf_hooks.monitorEventLoopDelay). Called once
 * by a serving process; CLI commands that open the store never pay for them.
 */
export function enableProcessMetrics(): void {
  if (processMetrics) return;
  processMetrics = true;
  collectDefaultMetrics({ register: registry });
}
