/**
 * A bounded random multi-client workload: many clients on a few accounts,
 * each keeping its session open and sending one command at a time — SELECT
 * and EXAMINE, FETCH of flags, headers and bodies, STORE of system flags and
 * keywords, EXPUNGE, APPEND, COPY, LIST, STATUS, SEARCH, NOOP — for a fixed
 * time and at most a fixed number of commands. Every reply goes through the
 * session checker (test/helpers/imap-session-checker.ts, concurrent mode), so
 * the run reports both throughput and how often a server broke the ordering
 * rules a client relies on.
 *
 *   node dist/bench/mixed-workload.js [--seconds 60] [--warmup 0] [--clients 30] [--accounts 10]
 *                                     [--servers mailkeep,dovecot] [--workers 1,2] [--runs 3]
 *                                     [--seed 1] [--messages 40] [--cpu-prof DIR]
 *
 * Servers run one after the other on the same workload (same seed), mailkeep
 * once per `--workers` count; each run alternates the order (the reverse on
 * every second run), and the tables give medians over the runs: commands/s,
 * and per command kind commands/s with p50/p99 latency (first byte sent →
 * tagged reply), with the CPU time of the server's process tree and of this
 * load generator over the timed window. `--warmup S` runs the workload S
 * seconds first, uncounted. See bench/README.md, "Mixed workload".
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { formatViolation, ImapSessionChecker, type Violation } from '../test/helpers/imap-session-checker.js';
import type { BenchServer } from './bench-server.js';
import { startDovecot } from './dovecot.js';
import { ImapClient } from './imap-client.js';
import { startMailkeep, startMailkeepPg } from './mailkeep.js';
import { intOption } from './cli-options.js';
import { appendArgs, generateMessage, rng } from './messages.js';
import { machineCpuNs, perProcessCpuNs, serverTreeCpuNs } from './proc.js';
import { median, percentile } from './stats.js';

/** The two mailboxes of every account. */
const MAILBOXES = ['INBOX', 'Work'] as const;
const KEYWORDS = ['$Label1', '$Label2', '$Label3', '$Label4', '$Label5'];
const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'];
/** A client stops adding messages to a mailbox this full, so the mailboxes stay small. */
const MAILBOX_CAP = 300;
/** Longest response line kept (SEARCH results of a capped mailbox fit). */
const HEAD_MAX = 1 << 16;
/** Violations kept for the report; the rest are only counted. */
const KEEP_VIOLATIONS = 1000;
const USER_PREFIX = 'mix';

/** What one workload run needs. */
export interface MixedOptions {
  port: number;
  users: readonly string[];
  password: string;
  clients: number;
  seconds: number;
  /** Each client stops after this many commands even before the time is up. */
  maxCommandsPerClient: number;
  seed: number;
  /** Seconds of the same workload (another seed) before the timed window, not counted (default 0). */
  warmupSeconds?: number;
  /** The server's process tree, to measure its CPU time over the timed window (absent: not measured). */
  serverPid?: number;
}

/** CPU time spent during the timed window, in ms. */
export interface CpuUse {
  /** The server's whole process tree (serverTreeCpuNs: live processes and those reaped meanwhile). */
  server: number;
  /** Each server process's own (perProcessCpuNs), by "pid comm", for the log. */
  perProcess: Array<[string, number]>;
  /** This process: the load generator (clients and checker). */
  client: number;
  /** The machine's busy and total CPU time (all cores), from /proc/stat. */
  machineBusy: number;
  machineTotal: number;
}

/** What one workload run measured. */
export interface MixedResult {
  commands: number;
  seconds: number;
  no: number;
  bad: number;
  /** Violations by kind, over the whole run. */
  byKind: Record<string, number>;
  /** The first violations (at most KEEP_VIOLATIONS). */
  violations: Violation[];
  /** Latency in ms of every command, by kind (commandKind). */
  latencies: Map<string, number[]>;
  /** Present when `serverPid` was given. */
  cpu?: CpuUse;
  /** The timed window on the monotonic clock V8's CPU profiles use, in µs (profile-summary --window). */
  windowUs: [number, number];
}

/** A command's kind for the per-kind table: its name, with UID and the FETCH's shape where they matter. */
export function commandKind(text: string): string {
  const words = text.split(' ');
  const name = words[0] === 'UID' ? `UID ${words[1]}` : words[0]!;
  if (!name.endsWith('FETCH')) return name;
  return `${name} ${/BODY(\.PEEK)?\[\]/.test(text) ? 'body' : text.includes('HEADER.FIELDS') ? 'headers' : 'flags'}`;
}

/** Creates the second mailbox of every account and fills INBOX with `messages` messages (one MULTIAPPEND). */
export async function prepareAccounts(port: number, users: readonly string[], password: string, messages: number): Promise<void> {
  await Promise.all(
    users.map(async (user, u) => {
      const c = await ImapClient.login(port, user, password);
      await c.ok(`CREATE ${MAILBOXES[1]}`);
      const parts: Array<string | Buffer> = ['APPEND INBOX'];
      for (let i = 0; i < messages; i++) {
        const m = generateMessage(u * messages + i, 'compact');
        parts.push(` ${appendArgs(m)}`, m.bytes);
      }
      if (messages > 0) await c.ok(...parts);
      await c.logout();
    }),
  );
}

/**
 * Runs the workload against a prepared server; resolves when every client has stopped. The clock starts
 * once every client has logged in: logins have their own rows (login-rate.ts), and a worker's first login
 * per account costs a full memory-hard hash, which would otherwise weigh on a short run.
 */
export async function runMixedWorkload(opts: MixedOptions): Promise<MixedResult> {
  const result: MixedResult = { commands: 0, seconds: 0, no: 0, bad: 0, byKind: {}, violations: [], latencies: new Map(), windowUs: [0, 0] };
  const sessions = await Promise.all(
    Array.from({ length: opts.clients }, (_, i) => ImapClient.login(opts.port, opts.users[i % opts.users.length]!, opts.password)),
  );
  if ((opts.warmupSeconds ?? 0) > 0) {
    // A server that has run for a while: compiled hot code, filled caches. Its results are dropped.
    const warm: MixedResult = { commands: 0, seconds: 0, no: 0, bad: 0, byKind: {}, violations: [], latencies: new Map(), windowUs: [0, 0] };
    const until = Date.now() + opts.warmupSeconds! * 1000;
    await Promise.all(sessions.map((c, i) => runClient(c, i, { ...opts, seed: opts.seed + 7919 }, until, warm)));
  }
  const cpuAtStart = opts.serverPid === undefined ? null : readCpu(opts.serverPid);
  const t0 = performance.now();
  const fromUs = monotonicUs();
  const deadline = Date.now() + opts.seconds * 1000;
  // The window ends when the last client's last command is answered, before the LOGOUTs.
  await Promise.all(sessions.map((c, i) => runClient(c, i, opts, deadline, result)));
  result.seconds = (performance.now() - t0) / 1000;
  result.windowUs = [fromUs, monotonicUs()];
  if (cpuAtStart !== null) result.cpu = cpuSince(cpuAtStart, readCpu(opts.serverPid!));
  await Promise.all(sessions.map((c) => c.logout()));
  return result;
}

/** CLOCK_MONOTONIC in µs: the clock of V8's profile timestamps (and of every process on the machine). */
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

interface CpuReading {
  server: number;
  perProcess: Map<number, number>;
  client: NodeJS.CpuUsage;
  machine: { busy: number; total: number };
}

function readCpu(pid: number): CpuReading {
  return { server: serverTreeCpuNs(pid), perProcess: perProcessCpuNs(pid), client: process.cpuUsage(), machine: machineCpuNs() };
}

function cpuSince(a: CpuReading, b: CpuReading): CpuUse {
  const comm = (pid: number): string => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
    } catch {
      return '?';
    }
  };
  const client = process.cpuUsage(a.client);
  return {
    server: (b.server - a.server) / 1e6,
    perProcess: [...b.perProcess]
      .map(([pid, ns]): [string, number] => [`${pid} ${comm(pid)}`, (ns - (a.perProcess.get(pid) ?? 0)) / 1e6])
      .sort((x, y) => y[1] - x[1]),
    client: (client.user + client.system) / 1000,
    machineBusy: (b.machine.busy - a.machine.busy) / 1e6,
    machineTotal: (b.machine.total - a.machine.total) / 1e6,
  };
}

async function runClient(c: ImapClient, i: number, opts: MixedOptions, deadline: number, result: MixedResult): Promise<void> {
  const rand = rng(opts.seed * 1_000_003 + i);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const user = opts.users[i % opts.users.length]!;
  c.headMax = HEAD_MAX;
  const checker = new ImapSessionChecker({ session: `c${i}(${user})`, sequential: false, literals: 'skipped' });
  let lines: string[] = [];
  c.onUntagged = (r) => void lines.push(r.head);
  let appended = 0;

  const send = async (...parts: Array<string | Buffer>): Promise<void> => {
    lines = [];
    const t0 = performance.now();
    const done = await c.send(...parts);
    const ms = performance.now() - t0;
    const text = parts.map((p) => (typeof p === 'string' ? p : `<${p.length} bytes>`)).join('');
    const kind = commandKind(text);
    const samples = result.latencies.get(kind) ?? [];
    samples.push(ms);
    result.latencies.set(kind, samples);
    for (const v of checker.observe(text, lines, `x ${done.status} ${done.text}`).violations) {
      result.byKind[v.kind] = (result.byKind[v.kind] ?? 0) + 1;
      if (result.violations.length < KEEP_VIOLATIONS) result.violations.push(v);
    }
    result.commands++;
    if (done.status === 'NO') result.no++;
    else if (done.status === 'BAD') result.bad++;
  };
  /** A random range a:b of the session's sequence numbers (count > 0). */
  const range = (count: number, maxLen: number): string => {
    const a = 1 + Math.floor(rand() * count);
    const b = Math.min(count, a + Math.floor(rand() * maxLen));
    return a === b ? `${a}` : `${a}:${b}`;
  };
  const someFlags = (): string => {
    const n = 1 + Math.floor(rand() * 3);
    return Array.from({ length: n }, () => (rand() < 0.5 ? pick(KEYWORDS) : pick(SYSTEM_FLAGS))).join(' ');
  };

  try {
    await send(`SELECT ${MAILBOXES[0]}`);
    for (let n = 0; n < opts.maxCommandsPerClient && Date.now() < deadline; n++) {
      const count = checker.count;
      const selected = checker.mailbox ?? MAILBOXES[0];
      const other = selected === MAILBOXES[0] ? MAILBOXES[1] : MAILBOXES[0];
      const r = rand() * 100;
      const uid = rand() < 0.3 ? 'UID ' : '';
      if (r < 4) await send(`${rand() < 0.3 ? 'EXAMINE' : 'SELECT'} ${pick(MAILBOXES)}`);
      else if (count === 0 || r < 12) await send('NOOP');
      else if (r < 30) await send(uid ? 'UID FETCH 1:* (FLAGS)' : `FETCH ${range(count, 20)} (UID FLAGS)`);
      else if (r < 40) await send(`FETCH ${range(count, 10)} (UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])`);
      else if (r < 45) await send(`FETCH ${range(count, 1)} (${rand() < 0.5 ? 'BODY[]' : 'BODY.PEEK[]'})`);
      else if (r < 65) await send(`STORE ${range(count, 5)} ${pick(['+', '-', ''])}FLAGS${rand() < 0.3 ? '.SILENT' : ''} (${someFlags()})`);
      else if (r < 68) await send('EXPUNGE');
      else if (r < 76 && count < MAILBOX_CAP) {
        const m = generateMessage(1_000_000 + i * opts.maxCommandsPerClient + appended++, 'compact');
        await send(`APPEND ${pick(MAILBOXES)} (${someFlags()}) {${m.bytes.length}+}\r\n`, m.bytes);
      } else if (r < 78 && count < MAILBOX_CAP) await send(`COPY ${range(count, 3)} ${other}`);
      else if (r < 81) await send('LIST "" "*"');
      else if (r < 86) await send(`STATUS ${pick(MAILBOXES)} (MESSAGES UNSEEN UIDNEXT)`);
      else if (r < 92) await send(`${uid}SEARCH ${pick(['UNSEEN', 'FLAGGED', 'DELETED', `KEYWORD ${pick(KEYWORDS)}`])}`);
      else await send('NOOP');
    }
  } catch (err) {
    await c.logout();
    throw err;
  }
}

/** Account names for `n` accounts. */
export function mixedUsers(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${USER_PREFIX}${i + 1}`);
}

const SERVER_NAMES = ['mailkeep', 'mailkeep-pg', 'dovecot'] as const;
type ServerName = (typeof SERVER_NAMES)[number];

const log = (msg: string): void => void process.stderr.write(`[mixed ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** One server setting of the comparison: a server, and for mailkeep its worker count. */
interface Contender {
  name: ServerName;
  workers: number;
  label: string;
}

async function start(c: Contender, users: string[], maxConnections: number, cpuProfDir: string | null): Promise<BenchServer> {
  const common = { users, maxConnections, keep: false };
  if (c.name === 'dovecot') return startDovecot(common);
  // Cluster workers inherit the primary's node flags: with --cpu-prof each process writes its own profile.
  const opts = { ...common, quiet: true, workers: c.workers, cpuProfDir };
  return c.name === 'mailkeep' ? startMailkeep(opts) : startMailkeepPg(opts);
}

/** CPU ms per 1,000 commands of a run. */
const perThousand = (cpuMs: number, r: MixedResult): string => ((1000 * cpuMs) / r.commands).toFixed(0);

const ms = (v: number): string => (Number.isNaN(v) ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(1));

/** What runs of one contender measured. */
interface Runs {
  version: string;
  results: MixedResult[];
}

/** The per-kind table of one contender: median commands/s over the runs, p50/p99 over all its commands. */
function kindTable(label: string, runs: Runs): string[] {
  const kinds = new Set(runs.results.flatMap((r) => [...r.latencies.keys()]));
  const rows = [`| ${label}: kind | commands/s | p50 ms | p99 ms |`, '| --- | ---: | ---: | ---: |'];
  for (const kind of [...kinds].sort()) {
    const rates = runs.results.map((r) => (r.latencies.get(kind)?.length ?? 0) / r.seconds);
    const all = runs.results.flatMap((r) => r.latencies.get(kind) ?? []);
    rows.push(`| ${kind} | ${median(rates).toFixed(0)} | ${ms(percentile(all, 50))} | ${ms(percentile(all, 99))} |`);
  }
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      warmup: { type: 'string', default: '0' },
      clients: { type: 'string', default: '30' },
      accounts: { type: 'string', default: '10' },
      servers: { type: 'string', default: 'mailkeep,dovecot' },
      workers: { type: 'string', default: '1' },
      runs: { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      messages: { type: 'string', default: '40' },
      'max-commands': { type: 'string', default: '100000' },
      'cpu-prof': { type: 'string' },
    },
  });
  const servers = values.servers.split(',').map((s) => s.trim());
  for (const s of servers)
    if (!(SERVER_NAMES as readonly string[]).includes(s)) throw new Error(`--servers: unknown server ${s} (servers: ${SERVER_NAMES.join(', ')})`);
  const workerCounts = values.workers.split(',').map((w) => intOption('workers', w.trim(), 1, 1024));
  const contenders: Contender[] = (servers as ServerName[]).flatMap((name): Contender[] =>
    name === 'dovecot' ? [{ name, workers: 1, label: name }] : workerCounts.map((workers) => ({ name, workers, label: `${name} ×${workers}` })),
  );
  const clients = intOption('clients', values.clients, 1, 1000);
  const users = mixedUsers(intOption('accounts', values.accounts, 1, 1000));
  const runCount = intOption('runs', values.runs, 1, 100);
  const opts = {
    seconds: intOption('seconds', values.seconds, 1, 3600),
    warmupSeconds: intOption('warmup', values.warmup, 0, 3600),
    clients,
    seed: intOption('seed', values.seed, 0, 2 ** 31),
    maxCommandsPerClient: intOption('max-commands', values['max-commands'], 1, 10_000_000),
  };
  const messages = intOption('messages', values.messages, 0, MAILBOX_CAP);
  const rows: string[] = [
    '| server | run | commands | commands/s | server CPU ms / 1,000 cmds | client CPU ms / 1,000 | CPU shares: server / client / others | NO | BAD | violations | by kind |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- |',
  ];
  const samples: string[] = [];
  const measured = new Map<string, Runs>();
  // The window files are written before the first profile, which node writes only at the server's exit.
  if (values['cpu-prof']) fs.mkdirSync(values['cpu-prof'], { recursive: true });
  for (let run = 1; run <= runCount; run++) {
    // Alternate the order, so neither side always runs on a machine warmed (or tired) by the other.
    const order = run % 2 === 1 ? contenders : [...contenders].reverse();
    for (const contender of order) {
      log(`run ${run}: starting ${contender.label}`);
      const server = await start(contender, users, clients + 20, values['cpu-prof'] ?? null);
      try {
        await prepareAccounts(server.port, users, server.password, messages);
        log(
          `${contender.label}: ${clients} clients on ${users.length} accounts for ${opts.seconds} s after ${opts.warmupSeconds} s of warm-up (seed ${opts.seed})`,
        );
        const r = await runMixedWorkload({ ...opts, port: server.port, users, password: server.password, serverPid: server.pids()[0] });
        const total = Object.values(r.byKind).reduce((a, b) => a + b, 0);
        const kinds =
          Object.entries(r.byKind)
            .map(([k, n]) => `${k} ${n}`)
            .join(', ') || '–';
        const cpu = r.cpu!;
        const share = (v: number): string => `${Math.round((100 * Math.max(0, v)) / cpu.machineTotal)} %`;
        const shares = `${share(cpu.server)} / ${share(cpu.client)} / ${share(cpu.machineBusy - cpu.server - cpu.client)}`;
        rows.push(
          `| ${server.version} | ${run} | ${r.commands} | ${(r.commands / r.seconds).toFixed(0)} | ${perThousand(cpu.server, r)} | ${perThousand(cpu.client, r)} | ${shares} | ${r.no} | ${r.bad} | ${total} | ${kinds} |`,
        );
        log(`${contender.label}: CPU ms by process: ${cpu.perProcess.map(([p, v]) => `${p} ${v.toFixed(0)}`).join(', ')}`);
        for (const v of r.violations.slice(0, 5)) samples.push(`- ${contender.label}: ${formatViolation(v)}`);
        log(`${contender.label}: ${r.commands} commands in ${r.seconds.toFixed(1)} s, ${total} violations`);
        if (values['cpu-prof']) {
          const file = path.join(values['cpu-prof'], `window-${contender.label.replace(/\W+/g, '')}-run${run}.json`);
          fs.writeFileSync(file, JSON.stringify({ label: contender.label, run, commands: r.commands, fromUs: r.windowUs[0], toUs: r.windowUs[1] }));
        }
        const entry = measured.get(contender.label) ?? { version: server.version, results: [] };
        entry.results.push(r);
        measured.set(contender.label, entry);
      } finally {
        await server.stop();
      }
    }
  }
  const rate = (label: string): number => median((measured.get(label)?.results ?? []).map((r) => r.commands / r.seconds));
  const dovecot = measured.has('dovecot') ? rate('dovecot') : NaN;
  const cpuPerThousand = (label: string): number => median((measured.get(label)?.results ?? []).map((r) => (1000 * r.cpu!.server) / r.commands));
  const summary = [
    `| server | median commands/s (${runCount} runs) | ÷ Dovecot | median server CPU ms / 1,000 commands | ÷ Dovecot |`,
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  const dovecotCpu = measured.has('dovecot') ? cpuPerThousand('dovecot') : NaN;
  const ratio = (v: number, of: number): string => (Number.isNaN(of) ? '–' : (v / of).toFixed(2));
  for (const c of contenders)
    summary.push(
      `| ${c.label} | ${rate(c.label).toFixed(0)} | ${ratio(rate(c.label), dovecot)} | ${cpuPerThousand(c.label).toFixed(0)} | ${ratio(cpuPerThousand(c.label), dovecotCpu)} |`,
    );
  const perKind = contenders.flatMap((c) => ['', ...kindTable(c.label, measured.get(c.label)!)]);
  process.stdout.write(
    `\n${rows.join('\n')}\n\n${summary.join('\n')}\n${perKind.join('\n')}\n${samples.length > 0 ? `\nFirst violations:\n${samples.join('\n')}\n` : ''}`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
