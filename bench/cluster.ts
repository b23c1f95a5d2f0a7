/**
 * Two mailkeep nodes on one PostgreSQL database versus one node: the same
 * client load, either all on node A or split across A and B, and IDLE
 * wake-ups from an APPEND on the other node (LISTEN/NOTIFY) versus the same
 * node. Prints a Markdown table of medians and the ratio two nodes / one node.
 *
 *   node dist/bench/cluster.js [--runs 5] [--scale 1]
 *
 * Both nodes run during the whole benchmark (on a throwaway database, dropped
 * at the end); measured runs alternate between the configurations (one, two;
 * two, one; …) so drift hits both alike. See bench/README.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { delaysUntil, ImapClient } from './imap-client.js';
import { REPO_ROOT, startMailkeep, type MailkeepServer } from './mailkeep.js';
import { createBenchDatabase } from './pg-database.js';
import { appendArgs, expectedHits, generateMessage, SUBJECT_WORD, type BenchMessage } from './messages.js';
import { sleep } from './proc.js';
import { formatValue, markdownTable, type MetricResult } from './report.js';
import { percentile } from './stats.js';
import { BOXES, populate, sizesFor, type Target } from './workload.js';

/** The two configurations compared, as table columns. */
const ONE = 'one node';
const TWO = 'two nodes';
type Config = typeof ONE | typeof TWO;

/** Row a: connections appending at once, and commands in flight on each (LITERAL+). */
const APPENDERS = 4;
const APPEND_WINDOW = 4;
/** Row b: APPENDs per run and configuration, the pause between them, and how long one may take to reach every idler. */
const IDLE_APPENDS = 5;
const IDLE_PAUSE_MS = 200;
const NOTIFY_TIMEOUT_MS = 10_000;
/** Row c: reading connections, and the messages one FETCH of headers or bodies covers. */
const READERS = 8;
const META_SPAN = 50;
const BODY_SPAN = 5;
/** Upper bound on one measured run (every row), and on logging in one connection. */
const RUN_TIMEOUT_MS = 10 * 60_000;
const LOGIN_TIMEOUT_MS = 30_000;

interface Options {
  runs: number;
  scale: number;
}

function options(): Options {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, scale: { type: 'string', default: '1' } } });
  const num = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in [${min}, ${max}]`);
    return n;
  };
  return { runs: Math.round(num('runs', values.runs, 1, 100)), scale: num('scale', values.scale, 0.001, 10) };
}

/** Cluster workload sizes; scaled like main.ts's. */
interface ClusterSizes {
  /** Messages each appender sends (4 × 2,500 = row 1's 10,000 at scale 1). */
  perAppender: number;
  /** IDLE connections on node A. */
  idlers: number;
  /** Messages in the mailbox the readers read (the mid mailbox of main.ts). */
  mid: number;
  /** Commands each reader sends per run. */
  readOps: number;
}

function clusterSizes(scale: number): ClusterSizes {
  const n = (full: number, min: number): number => Math.max(min, Math.round(full * scale));
  return { perAppender: n(2_500, 20), idlers: n(100, 10), mid: sizesFor(scale).mid, readOps: n(60, 6) };
}

const log = (msg: string): void => void process.stderr.write(`[cluster ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const fmt = (n: number): string => n.toLocaleString('en-US');

/** `p`, or an error after `ms`: no measured step can hang the benchmark. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const login = (s: MailkeepServer): Promise<ImapClient> => within(ImapClient.login(s.port, s.user, s.password), LOGIN_TIMEOUT_MS, `login on ${s.name}`);

/** Node of the i-th of `count` connections: all on A for one node, alternating A, B for two. */
function nodeFor(config: Config, i: number, a: MailkeepServer, b: MailkeepServer): MailkeepServer {
  return config === TWO && i % 2 === 1 ? b : a;
}

/** Deterministic pseudo-random numbers (a 32-bit LCG), so both configurations read the same messages. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32;
}

/** APPENDs `count` messages on `c` into `mailbox`, `APPEND_WINDOW` in flight. */
async function appendMany(c: ImapClient, mailbox: string, corpus: readonly BenchMessage[], first: number, count: number): Promise<void> {
  const inFlight: Array<Promise<unknown>> = [];
  for (let k = 0; k < count; k++) {
    const m = corpus[(first + k) % corpus.length]!;
    inFlight.push(c.ok(`APPEND ${mailbox} ${appendArgs(m)}`, m.bytes));
    if (inFlight.length >= APPEND_WINDOW) await inFlight.shift();
    if (c.congested) await c.drained();
  }
  await Promise.all(inFlight);
}

/** Row a: APPENDERS connections × perAppender messages, into their own mailboxes or one shared mailbox; ms for all. */
async function appendRun(
  config: Config,
  shared: boolean,
  run: number,
  nodes: [MailkeepServer, MailkeepServer],
  sizes: ClusterSizes,
  corpus: readonly BenchMessage[],
): Promise<number> {
  const [a, b] = nodes;
  const clients = await Promise.all(Array.from({ length: APPENDERS }, (_, i) => login(nodeFor(config, i, a, b))));
  try {
    const prefix = `cluster-append-${shared ? 'shared' : 'own'}-${config === ONE ? 1 : 2}-${run}`;
    const boxes = clients.map((_, i) => (shared ? prefix : `${prefix}-${i}`));
    for (const box of new Set(boxes)) await clients[0]!.ok(`CREATE ${box}`);
    const t0 = performance.now();
    await Promise.all(clients.map((c, i) => appendMany(c, boxes[i]!, corpus, i * sizes.perAppender, sizes.perAppender)));
    const ms = performance.now() - t0;
    // Every acknowledged message must be there, whichever node took it.
    const expected = shared ? APPENDERS * sizes.perAppender : sizes.perAppender;
    for (const box of new Set(boxes)) {
      let got = -1;
      clients[0]!.onUntagged = (r) => void (got = Number(/MESSAGES (\d+)/.exec(r.head)?.[1] ?? got));
      await clients[0]!.ok(`STATUS ${box} (MESSAGES)`);
      clients[0]!.onUntagged = null;
      if (got !== expected) throw new Error(`${box} has ${got} messages, expected ${expected}`);
      await clients[0]!.ok(`DELETE ${box}`);
    }
    return ms;
  } finally {
    for (const c of clients) await c.logout();
  }
}

/** Row b's standing state: idlers on node A, one appender per node. */
interface IdleSetup {
  idlers: ImapClient[];
  idling: Array<Promise<unknown>>;
  appenders: Record<Config, ImapClient>;
  /** Messages in the idle mailbox so far (the EXISTS the next APPEND yields, minus one). */
  exists: number;
}

const IDLE_BOX = 'cluster-idle';

async function setupIdle(a: MailkeepServer, b: MailkeepServer, sizes: ClusterSizes): Promise<IdleSetup> {
  const setup: IdleSetup = { idlers: [], idling: [], appenders: { [ONE]: await login(a), [TWO]: await login(b) }, exists: 0 };
  await setup.appenders[ONE].ok(`CREATE ${IDLE_BOX}`);
  for (let i = 0; i < sizes.idlers; i++) {
    const c = await login(a);
    setup.idlers.push(c);
    await c.ok(`SELECT ${IDLE_BOX}`);
    setup.idling.push((await within(c.idle(), LOGIN_TIMEOUT_MS, 'IDLE')).completion.catch(() => undefined));
  }
  return setup;
}

/**
 * Row b: IDLE_APPENDS APPENDs from the configuration's appender (node A for
 * one node, node B for two) to the idlers on node A; the delay from sending
 * each APPEND to the `* n EXISTS` at every idler, pooled over the run.
 */
async function idleRun(config: Config, setup: IdleSetup, corpus: readonly BenchMessage[]): Promise<{ p50: number; p99: number; missed: number }> {
  const latencies: number[] = [];
  let missed = 0;
  for (let k = 0; k < IDLE_APPENDS; k++) {
    const want = `* ${++setup.exists} EXISTS`;
    const m = corpus[setup.exists % corpus.length]!;
    const append = () => setup.appenders[config].ok(`APPEND ${IDLE_BOX} ${appendArgs(m)}`, m.bytes);
    const delays = await delaysUntil(setup.idlers, want, append, NOTIFY_TIMEOUT_MS);
    latencies.push(...delays);
    missed += setup.idlers.length - delays.length;
    await sleep(IDLE_PAUSE_MS);
  }
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), missed };
}

/**
 * Row c: READERS connections with the mid mailbox selected, each sending
 * readOps commands one at a time, cycling through FETCH of list headers
 * (ENVELOPE, BODYSTRUCTURE) for META_SPAN messages, FETCH BODY.PEEK[] of
 * BODY_SPAN messages, and SEARCH SUBJECT, at seeded random positions.
 */
async function readRun(config: Config, run: number, nodes: [MailkeepServer, MailkeepServer], sizes: ClusterSizes): Promise<{ ms: number; p99: number }> {
  const [a, b] = nodes;
  const mailbox = BOXES.mid.mailbox;
  const expected = expectedHits(sizes.mid).subject;
  const clients = await Promise.all(Array.from({ length: READERS }, (_, i) => login(nodeFor(config, i, a, b))));
  try {
    for (const c of clients) {
      c.headMax = 1 << 20; // the whole `* SEARCH …` line
      await c.ok(`EXAMINE ${mailbox}`);
    }
    const latencies: number[] = [];
    const reader = async (c: ImapClient, i: number): Promise<void> => {
      const random = lcg(run * READERS + i + 1);
      for (let op = 0; op < sizes.readOps; op++) {
        const span = op % 3 === 0 ? META_SPAN : BODY_SPAN;
        const from = 1 + Math.floor(random() * Math.max(1, sizes.mid - span));
        const to = Math.min(sizes.mid, from + span - 1);
        const command =
          op % 3 === 0
            ? `FETCH ${from}:${to} (UID RFC822.SIZE FLAGS ENVELOPE BODYSTRUCTURE)`
            : op % 3 === 1
              ? `FETCH ${from}:${to} BODY.PEEK[]`
              : `SEARCH SUBJECT ${SUBJECT_WORD}`;
        let hits = -1;
        c.onUntagged = (r) => void (r.head.startsWith('* SEARCH') && (hits = r.head.split(' ').length - 2));
        const t0 = performance.now();
        await c.ok(command);
        latencies.push(performance.now() - t0);
        if (op % 3 === 2 && hits !== expected) throw new Error(`SEARCH SUBJECT found ${hits} messages, expected ${expected}`);
      }
      c.onUntagged = null;
    };
    const t0 = performance.now();
    await Promise.all(clients.map(reader));
    return { ms: performance.now() - t0, p99: percentile(latencies, 99) };
  } finally {
    for (const c of clients) await c.logout();
  }
}

/** Adds one sample of a metric for a configuration. */
function record(results: Map<string, MetricResult>, row: string, key: string, label: string, unit: MetricResult['unit'], config: Config, value: number): void {
  let r = results.get(key);
  if (!r) {
    r = { row, key, label, unit, samples: new Map(), details: new Map(), first: new Map() };
    results.set(key, r);
  }
  r.samples.set(config, [...(r.samples.get(config) ?? []), value]);
}

async function pgVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const opts = options();
  const sizes = clusterSizes(opts.scale);
  const t0 = Date.now();
  const corpus = Array.from({ length: Math.max(APPENDERS * sizes.perAppender, sizes.mid) }, (_, i) => generateMessage(i));
  const maxConnections = sizes.idlers + READERS + APPENDERS + 16;
  const db = await createBenchDatabase();
  const nodes: MailkeepServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(nodes.splice(0).map((n) => n.stop()));
    await db.drop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    log(`database ${db.name}; starting node A, then node B on the same database`);
    nodes.push(await startMailkeep({ name: 'node-a', maxConnections, keep: false, storeUrl: db.url }));
    nodes.push(await startMailkeep({ name: 'node-b', maxConnections, keep: false, storeUrl: db.url, createUsers: false }));
    const pair: [MailkeepServer, MailkeepServer] = [nodes[0]!, nodes[1]!];
    const [a] = pair;

    log(`populating ${BOXES.mid.mailbox} (${fmt(sizes.mid)} messages) through node A`);
    const target: Target = { server: a, conns: new Map() };
    await populate([target], 'mid', sizesFor(opts.scale), corpus);
    for (const c of target.conns.values()) await c.logout();
    log(`${fmt(sizes.idlers)} idlers on node A`);
    const idle = await setupIdle(...pair, sizes);

    const results = new Map<string, MetricResult>();
    let missed = 0;
    const n = fmt(APPENDERS * sizes.perAppender);
    for (let run = 0; run < opts.runs; run++) {
      const order: Config[] = run % 2 === 0 ? [ONE, TWO] : [TWO, ONE];
      for (const config of order) {
        const started = Date.now();
        const own = await within(appendRun(config, false, run, pair, sizes, corpus), RUN_TIMEOUT_MS, 'APPEND, own mailboxes');
        record(
          results,
          '1a',
          'append-own',
          `APPEND ${n} messages: ${APPENDERS} connections × ${fmt(sizes.perAppender)}, own mailbox each, ${APPEND_WINDOW} in flight each`,
          'ms',
          config,
          own,
        );
        const shared = await within(appendRun(config, true, run, pair, sizes, corpus), RUN_TIMEOUT_MS, 'APPEND, one mailbox');
        record(
          results,
          '1b',
          'append-shared',
          `APPEND ${n} messages: ${APPENDERS} connections × ${fmt(sizes.perAppender)}, one mailbox, ${APPEND_WINDOW} in flight each`,
          'ms',
          config,
          shared,
        );
        const wake = await within(idleRun(config, idle, corpus), RUN_TIMEOUT_MS, 'IDLE');
        missed += wake.missed;
        const idleLabel = (p: string): string => `IDLE: APPEND → EXISTS at ${fmt(sizes.idlers)} idlers on node A, ${p} (one node: APPEND on A; two: on B)`;
        record(results, '2a', 'idle-p50', idleLabel('p50'), 'ms', config, wake.p50);
        record(results, '2b', 'idle-p99', idleLabel('p99'), 'ms', config, wake.p99);
        const read = await within(readRun(config, run, pair, sizes), RUN_TIMEOUT_MS, 'reads');
        const reads = `${READERS} readers × ${sizes.readOps} commands (FETCH ${META_SPAN} headers / FETCH ${BODY_SPAN} bodies / SEARCH SUBJECT), ${fmt(sizes.mid)}-message mailbox`;
        record(results, '3a', 'read-total', `Mixed reads, all done: ${reads}`, 'ms', config, read.ms);
        record(results, '3b', 'read-p99', 'Mixed reads, one command, p99', 'ms', config, read.p99);
        const summary = `APPEND own ${formatValue(own, 'ms')}, one mailbox ${formatValue(shared, 'ms')}; IDLE p50 ${formatValue(wake.p50, 'ms')} p99 ${formatValue(wake.p99, 'ms')}; reads ${formatValue(read.ms, 'ms')}`;
        log(`run ${run + 1}/${opts.runs} ${config}: ${summary} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      }
    }
    for (const c of idle.idlers) c.destroy();
    await Promise.all(idle.idling);
    for (const c of Object.values(idle.appenders)) await c.logout();

    const list = [...results.values()];
    const table = markdownTable(list, [ONE, TWO], [[TWO, ONE]], new Map());
    const cpus = os.cpus();
    const notes = [
      `- ${new Date().toISOString()}; ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, Linux ${os.release()}; node ${process.version}; PostgreSQL ${await pgVersion(db.url)} on 127.0.0.1 (same machine).`,
      `- ${a.version}; node A and node B share database ${db.name}. One node: every connection on A. Two nodes: connections alternate A, B.`,
      `- Scale ${opts.scale}; ${opts.runs} runs per configuration, alternating (one, two; two, one; …), median shown; each run does rows 1–3 in order.`,
      `- Row 2 pools the ${IDLE_APPENDS} APPENDs of a run (one at a time, ${IDLE_PAUSE_MS} ms apart) over all idlers${missed > 0 ? `; ${missed} notifications missed (not counted)` : ''}.`,
      ...list.map((r) => `- ${r.row}: ${[ONE, TWO].map((c) => `${c} ${(r.samples.get(c) ?? []).map((x) => formatValue(x, r.unit)).join(' / ')}`).join(' — ')}`),
      `- Total wall time ${((Date.now() - t0) / 1000).toFixed(0)} s.`,
    ];
    const text = `${table}\n\nNotes:\n${notes.join('\n')}\n`;
    process.stdout.write(`\n${text}`);
    const dir = path.join(REPO_ROOT, 'bench/results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `cluster-${new Date().toISOString().replace(/[:.]/g, '-')}.md`);
    fs.writeFileSync(file, text);
    log(`results written to ${path.relative(REPO_ROOT, file)}`);
    if (missed > 0) process.exitCode = 1;
  } finally {
    await stop();
  }
}

await main();
