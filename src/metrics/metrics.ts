/**
 * The process's Prometheus metrics (prom-client), one registry per process.
 * The hot path reaches them through the small functions below: a counter
 * increment or a histogram observation on pre-bound label values, nothing
 * that allocates per call beyond what prom-client does.
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
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The protocols that have sessions. */
export type Protocol = 'imap' | 'pop3' | 'lmtp';
/** How a command ended: IMAP's tagged status; POP3's +OK, -ERR for a bad command, other -ERR. */
export type CommandResult = 'OK' | 'NO' | 'BAD';
/** How a login attempt ended (auth/login.ts's outcomes). */
export type LoginOutcome = 'succeeded' | 'failed' | 'throttled' | 'busy' | 'disabled';
/** How one LMTP recipient's copy ended. */
export type DeliveryOutcome = 'stored' | 'over_quota' | 'too_big' | 'failed';

const PROTOCOLS: readonly Protocol[] = ['imap', 'pop3', 'lmtp'];
/** The protocols whose connections are counted (net/live-sessions.ts's SessionProtocol). */
const SESSION_PROTOCOLS: readonly string[] = [...PROTOCOLS, 'managesieve'];

/** The registry every mailkeep metric lives in (cluster workers report it to the primary: cluster-metrics.ts). */
export const registry = new Registry();

/** Command latencies: from a few hundred microseconds (NOOP) to a minute (a huge SEARCH, a slow client). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Store commits: an fsync is a millisecond or so on a good disk, seconds on a bad one. */
const COMMIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

const commands = new Counter({
  name: 'mailkeep_commands_total',
  help: 'Commands completed, by protocol, command and result (OK, NO, BAD)',
  labelNames: ['protocol', 'command', 'result'] as const,
  registers: [registry],
});
const commandSeconds = new Histogram({
  name: 'mailkeep_command_duration_seconds',
  help: 'Time from a command being read to its answer being queued, by protocol and command',
  labelNames: ['protocol', 'command'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});
const logins = new Counter({
  name: 'mailkeep_logins_total',
  help: 'Login attempts by protocol, mechanism and outcome (succeeded, failed, throttled, busy, disabled)',
  labelNames: ['protocol', 'mechanism', 'outcome'] as const,
  registers: [registry],
});
const deliveries = new Counter({
  name: 'mailkeep_lmtp_deliveries_total',
  help: 'LMTP recipients after DATA/BDAT, by outcome (stored, over_quota, too_big, failed)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
const rejections = new Counter({
  name: 'mailkeep_lmtp_rejections_total',
  help: 'LMTP recipients refused at RCPT (unknown user)',
  registers: [registry],
});
const commitSeconds = new Histogram({
  name: 'mailkeep_store_commit_duration_seconds',
  help: 'Duration of the store write transactions, BEGIN to COMMIT, by store kind',
  labelNames: ['store'] as const,
  buckets: COMMIT_BUCKETS,
  registers: [registry],
});

/**
 * Octets a protocol's connections read and wrote: Transport adds to the
 * object of its protocol (net/transport.ts), the counter reads it at scrape.
 * Plain protocol bytes, after TLS and COMPRESS.
 */
export interface Traffic {
  in: number;
  out: number;
}
const traffic: Record<Protocol, Traffic> = { imap: { in: 0, out: 0 }, pop3: { in: 0, out: 0 }, lmtp: { in: 0, out: 0 } };

/** The traffic totals a protocol's transports add to. */
export function trafficOf(protocol: Protocol): Traffic {
  return traffic[protocol];
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
    for (const p of SESSION_PROTOCOLS) for (const tls of ['yes', 'no']) this.set({ protocol: p, tls }, 0);
    for (const s of liveSessions()) {
      const protocol = SESSION_PROTOCOLS.includes(s.protocol) ? s.protocol : 'other';
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

/**
 * Bound recorders for one protocol's commands: label values are fixed when
 * built (from its command table), so recording is a map lookup and an add.
 */
export class CommandMetrics {
  private readonly byName = new Map<
    string,
    { ok: Counter.Internal; no: Counter.Internal; bad: Counter.Internal; seconds: Histogram.Internal<'protocol' | 'command'> }
  >();

  /** `names`: the protocol's command table; anything else is recorded as "other". */
  constructor(protocol: Protocol, names: Iterable<string>) {
    for (const name of [...names, 'other']) {
      const labels = { protocol, command: name };
      this.byName.set(name, {
        ok: commands.labels({ ...labels, result: 'OK' }),
        no: commands.labels({ ...labels, result: 'NO' }),
        bad: commands.labels({ ...labels, result: 'BAD' }),
        seconds: commandSeconds.labels(labels),
      });
    }
  }

  /** Records one command; `name` null or unknown counts as "other"; `startedMs` from performance.now(). */
  record(name: string | null, result: CommandResult, startedMs: number): void {
    const m = (name !== null ? this.byName.get(name) : undefined) ?? this.byName.get('other')!;
    (result === 'OK' ? m.ok : result === 'NO' ? m.no : m.bad).inc();
    m.seconds.observe((performance.now() - startedMs) / 1000);
  }
}

/** Records a login attempt; `mechanism` is a SASL mechanism name or "password" (IMAP LOGIN, POP3 USER/PASS). */
export function countLogin(protocol: string, mechanism: string, outcome: LoginOutcome): void {
  logins.inc({ protocol: PROTOCOLS.includes(protocol as Protocol) ? protocol : 'other', mechanism, outcome });
}

/** Records one LMTP recipient's outcome after the message data. */
export function countDelivery(outcome: DeliveryOutcome): void {
  deliveries.inc({ outcome });
}

/** Records one LMTP recipient refused at RCPT. */
export function countRejection(): void {
  rejections.inc();
}

const commitObservers = { sqlite: commitSeconds.labels({ store: 'sqlite' }), postgres: commitSeconds.labels({ store: 'postgres' }) };

/** Records a store write transaction's duration; `startedMs` from performance.now(). */
export function timeCommit(store: 'sqlite' | 'postgres', startedMs: number): void {
  commitObservers[store].observe((performance.now() - startedMs) / 1000);
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
