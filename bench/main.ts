/**
 * `npm run bench`: runs the same IMAP workload against mailkeep and Dovecot on
 * loopback in one run and prints a Markdown table of medians and their ratio.
 *
 *   node dist/bench/main.js [--only 1,6] [--runs 5] [--warmup 6] [--scale 0.1]
 *                           [--servers mailkeep,mailkeep-pg,mailkeep-nometrics,dovecot] [--cpu-prof] [--keep]
 *                           [--node-flag=--single-threaded-gc …]
 *
 * mailkeep-pg is mailkeep on a throwaway PostgreSQL database; mailkeep-nometrics
 * is mailkeep (SQLite) with `[admin] metrics = false`. All servers run
 * at once (each idle while another is measured); runs alternate between them
 * so drift hits all alike. Needs root (Dovecot) and a built checkout
 * (`npx tsc -p .`). See bench/README.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDovecot } from './dovecot.js';
import { REPO_ROOT, startMailkeep, startMailkeepPg } from './mailkeep.js';
import { generateMessage } from './messages.js';
import { raiseSysctl } from './proc.js';
import { markdownTable, formatValue, type MetricResult } from './report.js';
import { GROUPS, populate, sizesFor, type BoxName, type Context, type Group, type Target } from './workload.js';

const SERVER_NAMES = ['mailkeep', 'mailkeep-pg', 'mailkeep-nometrics', 'dovecot'] as const;
type ServerName = (typeof SERVER_NAMES)[number];
/** Servers run when --servers is not given. */
const DEFAULT_SERVERS: readonly ServerName[] = ['mailkeep', 'dovecot'];
/** Ratio columns (a/b), each shown when both servers run. */
const COMPARISONS: ReadonlyArray<readonly [ServerName, ServerName]> = [
  ['mailkeep', 'dovecot'],
  ['mailkeep-pg', 'dovecot'],
  ['mailkeep-pg', 'mailkeep'],
  // Issue 23: what recording metrics costs, on/off.
  ['mailkeep', 'mailkeep-nometrics'],
];
const INOTIFY_INSTANCES = '/proc/sys/fs/inotify/max_user_instances';

interface Options {
  only: Set<string> | null;
  runs: number;
  warmup: number;
  scale: number;
  servers: ServerName[];
  cpuProf: boolean;
  keep: boolean;
  /** Extra node command-line flags for mailkeep (V8 flags that NODE_OPTIONS refuses). */
  nodeFlags: string[];
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      runs: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '6' },
      scale: { type: 'string', default: '1' },
      servers: { type: 'string', default: DEFAULT_SERVERS.join(',') },
      'cpu-prof': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'node-flag': { type: 'string', multiple: true, default: [] },
    },
  });
  const num = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in [${min}, ${max}]`);
    return n;
  };
  const servers = values.servers.split(',').map((s) => s.trim());
  for (const s of servers)
    if (!(SERVER_NAMES as readonly string[]).includes(s)) throw new Error(`--servers: unknown server ${s} (servers: ${SERVER_NAMES.join(', ')})`);
  if (new Set(servers).size !== servers.length) throw new Error('--servers: a server is named twice');
  const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : null;
  for (const id of only ?? []) if (!GROUPS.some((g) => g.id === id)) throw new Error(`--only: no row ${id} (rows: ${GROUPS.map((g) => g.id).join(', ')})`);
  return {
    only,
    runs: Math.round(num('runs', values.runs, 1, 100)),
    warmup: Math.round(num('warmup', values.warmup, 0, 10)),
    scale: num('scale', values.scale, 0.001, 10),
    servers: servers as ServerName[],
    cpuProf: values['cpu-prof'],
    keep: values.keep,
    nodeFlags: values['node-flag'],
  };
}

const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${os.release()}`;
}

/** Runs one group on every target, alternating the order per run; fills `results`. */
async function runGroup(
  g: Group,
  targets: Target[],
  ctx: Context,
  opts: Options,
  results: Map<string, MetricResult>,
  errors: Map<string, string>,
): Promise<void> {
  const warmup = g.readOnly && !g.once ? opts.warmup : 0;
  const runs = g.once ? 1 : opts.runs;
  const failed = new Set<string>();
  // The garbage the rows before left is not this row's cost: collect it first (bench/README.md, "Fairness").
  for (const t of targets) await t.server.collectGarbage?.();
  for (let run = 0; run < warmup + runs; run++) {
    const order = run % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const name = t.server.name;
      if (failed.has(name)) continue;
      const started = Date.now();
      let metrics;
      try {
        metrics = await g.measure(t, ctx, run);
      } catch (err) {
        failed.add(name);
        errors.set(`${name}:${g.id}`, (err as Error).message);
        log(`row ${g.id} on ${name} failed: ${(err as Error).message}\n${t.server.logTail()}`);
        for (const c of t.conns.values()) c.destroy(); // their state is unknown now
        t.conns.clear();
        continue;
      }
      metrics.forEach((m, i) => {
        let r = results.get(m.key);
        if (!r) {
          const row = metrics.length > 1 ? `${g.id}${String.fromCharCode(97 + i)}` : g.id;
          r = { row, key: m.key, label: m.label, unit: m.unit, samples: new Map(), details: new Map(), first: new Map() };
          results.set(m.key, r);
        }
        if (run < warmup) {
          if (run === 0) r.first.set(name, m.value);
        } else {
          const xs = r.samples.get(name) ?? [];
          xs.push(m.value);
          r.samples.set(name, xs);
        }
        if (m.detail !== undefined) r.details.set(name, m.detail);
        errors.delete(`${name}:${m.key}`);
      });
      const summary = metrics.map((m) => `${m.key} ${formatValue(m.value, m.unit)}`).join(', ');
      log(`row ${g.id} ${run < warmup ? 'warm-up' : `run ${run - warmup + 1}/${runs}`} ${name}: ${summary} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  }
}

function notes(results: readonly MetricResult[], versions: string[], opts: Options, ctx: Context, extra: string[], errors: Map<string, string>): string {
  const out = [
    `- ${new Date().toISOString()}; ${machine()}; node ${process.version}.`,
    `- Servers: ${versions.join('; ')}. Plain TCP on 127.0.0.1, LOGIN, no TLS.`,
    `- Scale ${opts.scale} (APPEND ${ctx.sizes.append}, big mailbox ${ctx.sizes.big}, mid mailbox ${ctx.sizes.mid}, bodies ${ctx.sizes.bodies}, idlers ${ctx.sizes.idlers}); ${opts.runs} measured runs per row, median shown; read-only rows after ${opts.warmup} warm-up run(s); row 8 is measured once on freshly started servers (memory: least-squares slope over the last 4 of 5 connection counts; latency: median over ${opts.runs} APPENDs of the per-APPEND percentile).`,
    ...extra,
  ];
  for (const r of results) {
    const parts: string[] = [];
    for (const name of opts.servers) {
      const bits: string[] = [];
      const first = r.first.get(name);
      if (first !== undefined) bits.push(`first (cold) ${formatValue(first, r.unit)}`);
      const d = r.details.get(name);
      if (d !== undefined) bits.push(d);
      const xs = r.samples.get(name);
      if (xs && xs.length > 1) bits.push(`runs ${xs.map((x) => formatValue(x, r.unit)).join(' / ')}`);
      if (bits.length > 0) parts.push(`${name}: ${bits.join('; ')}`);
    }
    if (parts.length > 0) out.push(`- ${r.row}: ${parts.join(' — ')}`);
  }
  for (const [k, msg] of errors) out.push(`- ERROR ${k}: ${msg}`);
  return out.join('\n');
}

async function main(): Promise<void> {
  const opts = options();
  const groups = GROUPS.filter((g) => opts.only === null || opts.only.has(g.id));
  const sizes = sizesFor(opts.scale);
  const wantsIdle = groups.some((g) => g.id === '8');
  const maxConnections = (wantsIdle ? sizes.idlers : 0) + 32;
  const t0 = Date.now();

  log(`generating ${Math.max(sizes.append, sizes.mid)} messages`);
  const corpus = Array.from({ length: Math.max(sizes.append, sizes.mid, sizes.idleBox) }, (_, i) => generateMessage(i));
  const ctx: Context = { sizes, runs: opts.runs, corpus };
  const extra: string[] = [];

  let targets: Target[] = [];
  const restores: Array<() => void> = [];
  const stopServers = async (): Promise<void> => {
    const started = Date.now();
    const stopping = targets;
    targets = [];
    const stopped = await Promise.allSettled(stopping.map((t) => t.server.stop()));
    for (const [i, r] of stopped.entries()) if (r.status === 'rejected') log(`stopping ${stopping[i]!.server.name} failed: ${(r.reason as Error).message}`);
    log(`servers stopped in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await stopServers();
    for (const r of restores) r();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    if (wantsIdle && opts.servers.includes('dovecot')) {
      // Dovecot's IDLE watches the mailbox with inotify: one instance per imap process
      const restore = raiseSysctl(INOTIFY_INSTANCES, sizes.idlers + 256);
      if (restore) {
        restores.push(restore);
        extra.push(`- ${INOTIFY_INSTANCES} raised to ${sizes.idlers + 256} for the run (restored after) so every Dovecot idler gets inotify.`);
      }
    }
    let profDir: string | null = null;
    if (opts.cpuProf) {
      profDir = path.join(REPO_ROOT, 'bench/results', `prof-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      fs.mkdirSync(profDir, { recursive: true });
    }
    const startServers = async (): Promise<void> => {
      for (const name of opts.servers) {
        log(`starting ${name}`);
        const mailkeepOpts = { maxConnections, keep: opts.keep, cpuProfDir: profDir, nodeFlags: opts.nodeFlags };
        const server =
          name === 'mailkeep'
            ? await startMailkeep(mailkeepOpts)
            : name === 'mailkeep-pg'
              ? await startMailkeepPg(mailkeepOpts)
              : name === 'mailkeep-nometrics'
                ? await startMailkeep({ ...mailkeepOpts, name, settings: { MAILKEEP_ADMIN__METRICS: 'false' } })
                : await startDovecot({ maxConnections, keep: opts.keep });
        targets.push({ server, conns: new Map() });
      }
    };
    await startServers();
    const versions = targets.map((t) => t.server.version);

    const results = new Map<string, MetricResult>();
    const errors = new Map<string, string>();
    let populated = new Set<BoxName>();
    for (const [i, g] of groups.entries()) {
      if (g.fresh && i > 0) {
        log(`restarting the servers for row ${g.id}`);
        await stopServers();
        await startServers();
        populated = new Set();
      }
      for (const box of g.needs.filter((b) => !populated.has(b))) {
        const started = Date.now();
        log(`populating ${box} mailbox on ${opts.servers.join(' and ')}`);
        await populate(targets, box, sizes, corpus);
        populated.add(box);
        log(`populated ${box} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      }
      await runGroup(g, targets, ctx, opts, results, errors);
    }
    for (const t of targets) for (const c of t.conns.values()) await c.logout();

    const list = [...results.values()];
    const ratios = COMPARISONS.filter(([a, b]) => opts.servers.includes(a) && opts.servers.includes(b));
    const table = markdownTable(list, opts.servers, ratios, errors);
    if (profDir) extra.push(`- mailkeep CPU profile: ${path.relative(REPO_ROOT, profDir)} (written when the server stops).`);
    extra.push(`- Total wall time ${((Date.now() - t0) / 1000).toFixed(0)} s.`);
    const text = `${table}\n\nNotes:\n${notes(list, versions, opts, ctx, extra, errors)}\n`;
    process.stdout.write(`\n${text}`);
    const dir = path.join(REPO_ROOT, 'bench/results');
    fs.mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    fs.writeFileSync(path.join(dir, `${stamp}.md`), text);
    const json = list.map((r) => ({
      ...r,
      samples: Object.fromEntries(r.samples),
      details: Object.fromEntries(r.details),
      first: Object.fromEntries(r.first),
    }));
    fs.writeFileSync(
      path.join(dir, `${stamp}.json`),
      `${JSON.stringify({ opts: { ...opts, only: opts.only && [...opts.only] }, sizes, results: json, errors: Object.fromEntries(errors) }, null, 2)}\n`,
    );
    log(`results written to bench/results/${stamp}.md`);
    if (errors.size > 0) process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();
