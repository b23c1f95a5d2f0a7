/**
 * The fuzz runner: starts a mailkeep child process, runs inputs from every
 * target in every state over parallel loopback connections, and checks after
 * each input that the answer parses, and on a timer that the process lives,
 * a control session's NOOP answers and resident memory stays bounded.
 *
 * An input is named by (seed, protocol, state, n): its bytes come from
 * `new Rng(seed, stream(protocol, state, n))` alone, so a failure can be
 * replayed (`node dist/bench/fuzz.js --replay imap/selected/123 --seed S`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferedSocket } from '../helpers/socket-buffer.js';
import { FUZZ_LOGIN } from './imap-grammar.js';
import { ImapTarget } from './imap-target.js';
import { readImapLine, readCrlfLine } from './lines.js';
import { LmtpTarget } from './lmtp-target.js';
import { Pop3Target } from './pop3-target.js';
import { Rng } from './rng.js';
import { startServerUnderFuzz } from './server-process.js';
import type { FuzzEnv, FuzzSession, InputKind, Outcome, Target } from './target.js';

export interface FuzzOptions {
  seed: number;
  /** Stop after this many inputs… */
  inputs: number;
  /** …or after this long, whichever comes first. */
  maxMs: number;
  /** Connections fuzzing at once (rounded up to a multiple of the number of protocol states). */
  parallel: number;
  /** Reproducers are written here; null: not written. */
  outDir: string | null;
  /** Resident memory the server may reach. */
  maxRssBytes: number;
  /** Ends the run early (Ctrl-C in local mode); the report covers what ran. */
  signal?: AbortSignal;
  /** Progress lines (local mode); silent when absent. */
  progress?: (line: string) => void;
  targets?: Target[];
}

/** Counters for one protocol/state. */
export interface StateStats {
  inputs: number;
  kinds: Record<InputKind, number>;
  stalls: number;
  reconnects: number;
  violations: number;
  serverErrors: number;
}

export interface Failure {
  kind: 'crash' | 'violation' | 'server-error' | 'control' | 'memory' | 'log-error' | 'stall';
  detail: string;
  /** protocol/state/n, when an input is to blame. */
  input?: string;
  reproducer?: string;
}

export interface FuzzReport {
  seed: number;
  inputs: number;
  elapsedMs: number;
  perState: Record<string, StateStats>;
  failures: Failure[];
  /** Stalls of inputs the grammar produced as they are (a possible hang; mutated ones are expected to stall now and then). */
  stalls: Failure[];
  rssSamples: number[];
  maxRss: number;
  controlRttMs: { p50: number; p99: number; max: number; samples: number };
  /** CPU time spent by the server process (all threads) and by the harness, in ms. */
  cpuMs: { server: number; harness: number };
  logErrors: Array<{ msg: string; count: number; first: string }>;
}

/** A stable stream number for (protocol, state, n). */
export function inputStream(protocol: string, state: string, n: number): number {
  let h = 2166136261;
  for (const c of `${protocol}/${state}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return (h ^ Math.imul(n, 0x9e3779b1)) >>> 0;
}

export function defaultTargets(): Target[] {
  return [new ImapTarget(), new Pop3Target(), new LmtpTarget()];
}

/** Regenerates one input by its name, e.g. "imap/selected/123". */
export function replayInput(seed: number, name: string, targets = defaultTargets()): { bytes: Buffer; kind: InputKind } {
  const [protocol, state, n] = name.split('/');
  const target = targets.find((t) => t.protocol === protocol);
  if (!target?.states.includes(state!)) throw new Error(`no such input: ${name}`);
  return target.generate(new Rng(seed, inputStream(protocol!, state!, Number(n))), state!);
}

const PASSWORD = 'fuzz-secret';
/** Keep at most this many reproducers per protocol/state/kind of failure. */
const MAX_REPRODUCERS = 5;
/** Inputs a worker runs before it tidies its account (mailboxes created, messages appended or copied). */
const TIDY_EVERY = 1500;
const CONTROL_EVERY_MS = 2000;
/** A control NOOP slower than this fails the run (loaded 2-core CI). */
const CONTROL_LIMIT_MS = 10000;

/** Seed messages: plain, multipart, a line starting with ".", 8-bit text. */
const SEEDS = [
  'From: a@example.com\r\nTo: b@example.com\r\nSubject: plain\r\nDate: Mon, 7 Dec 2026 12:00:00 +0000\r\nMessage-ID: <p@x>\r\n\r\nHello.\r\n.hidden line\r\n',
  'From: "Ä" <c@example.com>\r\nSubject: =?UTF-8?B?w6k=?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncaf\u00e9\r\n--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b1--\r\n',
  'From: d@example.com\r\nSubject: re: plain\r\nIn-Reply-To: <p@x>\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n',
  `From: e@example.com\r\nSubject: long\r\n\r\n${'line of text\r\n'.repeat(200)}`,
  'Subject: no from\r\n\r\n\r\n',
];

interface Slot {
  target: Target;
  state: string;
  account: string;
  n: number;
  session: FuzzSession | null;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const targets = opts.targets ?? defaultTargets();
  const pairs = targets.flatMap((t) => t.states.map((state) => ({ target: t, state })));
  // Every protocol/state gets its own loops (connections), so a slow state (stalls, reconnects) never holds up a fast one.
  const perPair = Math.max(1, Math.ceil(opts.parallel / pairs.length));
  const accounts = [
    ...Array.from({ length: perPair }, (_, k) => ({ name: `fuzzw${k}`, password: PASSWORD })),
    { name: 'fuzzsink', password: PASSWORD },
    { name: 'fuzzcontrol', password: PASSWORD },
    { name: FUZZ_LOGIN.user, password: FUZZ_LOGIN.password },
  ];
  const server = await startServerUnderFuzz(accounts);
  const env: FuzzEnv = { imapPort: server.imapPort, pop3Port: server.pop3Port, lmtpPort: server.lmtpPort, password: PASSWORD };
  const report: FuzzReport = {
    seed: opts.seed,
    inputs: 0,
    elapsedMs: 0,
    perState: {},
    failures: [],
    stalls: [],
    rssSamples: [],
    maxRss: 0,
    controlRttMs: { p50: 0, p99: 0, max: 0, samples: 0 },
    cpuMs: { server: 0, harness: 0 },
    logErrors: [],
  };
  const started = Date.now();
  const harnessCpu = process.cpuUsage();
  const deadline = started + opts.maxMs;
  let stop = false;
  opts.signal?.addEventListener('abort', () => {
    stop = true;
  });
  const reproducerCount = new Map<string, number>();
  const fail = (f: Failure): void => {
    report.failures.push(f);
  };
  try {
    for (const a of accounts) await seed(env, a.name);
    const control = await openControl(env);
    const rtts: number[] = [];
    const monitor = (async () => {
      for (let i = 0; !stop; i++) {
        await sleep(CONTROL_EVERY_MS);
        if (stop) break;
        if (server.exit) {
          fail({ kind: 'crash', detail: `${server.exit}\n${server.rawOutput()}` });
          stop = true;
          break;
        }
        const rss = server.rss();
        report.rssSamples.push(rss);
        report.maxRss = Math.max(report.maxRss, rss);
        if (rss > opts.maxRssBytes) {
          fail({ kind: 'memory', detail: `RSS ${mb(rss)} MB > ${mb(opts.maxRssBytes)} MB` });
          stop = true;
        }
        const t0 = Date.now();
        const answered = await control.noop(`C${i}`, CONTROL_LIMIT_MS);
        const rtt = Date.now() - t0;
        rtts.push(rtt);
        if (!answered) {
          fail({ kind: 'control', detail: `control NOOP unanswered after ${rtt} ms` });
          stop = true;
        }
        opts.progress?.(progressLine(report, started, rss, rtt));
      }
    })();
    let next = 0;
    const runLoop = async (slot: Slot, tidies: boolean): Promise<void> => {
      let sinceTidy = 0;
      while (!stop && next < opts.inputs && Date.now() <= deadline) {
        next++;
        await runOne(slot);
        // One loop per account tidies it now and then (mailboxes created, messages appended or copied).
        if (tidies && ++sinceTidy >= TIDY_EVERY) {
          sinceTidy = 0;
          await tidy(env, slot.account).catch(() => undefined);
        }
      }
      slot.session?.close();
    };
    const runOne = async (slot: Slot): Promise<void> => {
      const { target, state } = slot;
      const key = `${target.protocol}/${state}`;
      const stats = (report.perState[key] ??= {
        inputs: 0,
        kinds: { grammar: 0, mutated: 0, random: 0 },
        stalls: 0,
        reconnects: 0,
        violations: 0,
        serverErrors: 0,
      });
      // Loops sharing a pair never collide: loop k of K runs n = k, k+K, k+2K, …
      const n = slot.n;
      slot.n += perPair;
      const name = `${key}/${n}`;
      const input = target.generate(new Rng(opts.seed, inputStream(target.protocol, state, n)), state);
      if (!slot.session) {
        const opened = await openWithRetry(target, env, state, slot.account);
        stats.reconnects++;
        if (typeof opened === 'string') {
          fail({ kind: 'control', detail: `cannot open a ${key} session: ${opened}`, input: name });
          stop = true;
          return;
        }
        slot.session = opened;
      }
      let outcome: Outcome;
      try {
        outcome = await slot.session.run(input.bytes);
      } catch (e) {
        outcome = { violations: [], serverErrors: [], stalled: false, lost: true, transcript: Buffer.from(String(e)) };
      }
      stats.inputs++;
      stats.kinds[input.kind]++;
      report.inputs++;
      const save = (what: string): string | undefined => {
        if (!opts.outDir) return undefined;
        const k = `${key}/${what}`;
        const c = reproducerCount.get(k) ?? 0;
        if (c >= MAX_REPRODUCERS) return undefined;
        reproducerCount.set(k, c + 1);
        mkdirSync(opts.outDir, { recursive: true });
        const base = join(opts.outDir, `${target.protocol}-${state}-seed${opts.seed}-${n}-${what}`);
        writeFileSync(`${base}.input`, input.bytes);
        writeFileSync(`${base}.response`, outcome.transcript);
        return `${base}.input`;
      };
      if (outcome.violations.length > 0) {
        stats.violations++;
        fail({ kind: 'violation', detail: outcome.violations.slice(0, 3).join('\n'), input: name, reproducer: save('violation') });
      }
      if (outcome.serverErrors.length > 0) {
        stats.serverErrors++;
        fail({ kind: 'server-error', detail: outcome.serverErrors.slice(0, 3).join('\n'), input: name, reproducer: save('server-error') });
      }
      if (outcome.stalled) {
        stats.stalls++;
        if (input.kind === 'grammar' && report.stalls.length < 50)
          report.stalls.push({ kind: 'stall', detail: `no answer within the deadline (${input.kind})`, input: name, reproducer: save('stall') });
      }
      if (outcome.lost || outcome.stalled) {
        slot.session.close();
        slot.session = null;
      }
    };
    const loops = pairs.flatMap((p, j) =>
      Array.from({ length: perPair }, (_, k) => ({ slot: { ...p, account: `fuzzw${k}`, n: k, session: null } as Slot, tidies: j === 0 })),
    );
    await Promise.all(loops.map(({ slot, tidies }) => runLoop(slot, tidies)));
    stop = true;
    await monitor;
    // A last look after the inputs: alive, answering, memory.
    if (server.exit) fail({ kind: 'crash', detail: `${server.exit}\n${server.rawOutput()}` });
    else if (!(await control.noop('Cend', CONTROL_LIMIT_MS))) fail({ kind: 'control', detail: 'control NOOP unanswered at the end' });
    control.close();
    const sorted = [...rtts].sort((a, b) => a - b);
    const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    report.controlRttMs = { p50: q(0.5), p99: q(0.99), max: sorted[sorted.length - 1] ?? 0, samples: sorted.length };
  } finally {
    stop = true;
    report.elapsedMs = Date.now() - started;
    const used = process.cpuUsage(harnessCpu);
    report.cpuMs = { server: server.cpuMs(), harness: Math.round((used.user + used.system) / 1000) };
    report.logErrors = [...server.logErrors].map(([msg, v]) => ({ msg, count: v.count, first: v.first }));
    for (const e of report.logErrors) if (/unhandled|uncaught/i.test(e.msg + e.first)) fail({ kind: 'log-error', detail: `${e.count}× ${e.first}` });
    await server.stop();
  }
  return report;
}

async function openWithRetry(target: Target, env: FuzzEnv, state: string, account: string): Promise<FuzzSession | string> {
  let why = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await target.open(env, state, account);
    } catch (e) {
      why = (e as Error).message;
      await sleep(500 * (attempt + 1));
    }
  }
  return why;
}

/** Delivers the seed messages to an account over LMTP. */
async function seed(env: FuzzEnv, account: string): Promise<void> {
  const sock = await BufferedSocket.connect(env.lmtpPort);
  try {
    let script = 'LHLO fuzz.example\r\n';
    for (const m of SEEDS) script += `MAIL FROM:<seed@example.com>\r\nRCPT TO:<${account}@localhost>\r\nDATA\r\n${m.replace(/^\./gm, '..')}.\r\n`;
    sock.send(`${script}QUIT\r\n`);
    for (;;) {
      const line = await readCrlfLine(sock, 15000);
      if (!Buffer.isBuffer(line)) break;
      if (/^[45]/.test(line.toString('latin1'))) throw new Error(`seeding ${account}: ${line.toString('latin1')}`);
    }
  } finally {
    sock.close();
  }
}

/** Puts an account back in shape: fuzz-made mailboxes deleted, big mailboxes trimmed, INBOX re-seeded. */
async function tidy(env: FuzzEnv, account: string): Promise<void> {
  const c = await ImapControl.login(env, account);
  try {
    const names = (await c.command('l', 'LIST "" "*"'))
      .map((l) => /^\* LIST \([^)]*\) (?:NIL|"[^"]*") (?:"((?:[^"\\]|\\.)*)"|(\S+))$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!));
    const keep = new Set(['INBOX', 'Drafts', 'Sent', 'Trash', 'Junk', 'Archive']);
    const quote = (s: string): string => `"${s.replace(/[\\"]/g, '\\$&')}"`;
    for (const name of names.sort((a, b) => b.length - a.length)) if (!keep.has(name)) await c.command('d', `DELETE ${quote(name)}`);
    let inbox = 0;
    for (const name of keep) {
      const lines = await c.command('s', `SELECT ${name}`);
      const exists = Number(lines.map((l) => /^\* (\d+) EXISTS/.exec(l)?.[1]).find((x) => x !== undefined) ?? 0);
      if (exists > 30) {
        await c.command('f', 'STORE 21:* +FLAGS.SILENT (\\Deleted)');
        await c.command('e', 'EXPUNGE');
      }
      if (name === 'INBOX') inbox = Math.min(exists, 30);
    }
    if (inbox < SEEDS.length) await seed(env, account);
  } finally {
    c.close();
  }
}

async function openControl(env: FuzzEnv): Promise<ImapControl> {
  return ImapControl.login(env, 'fuzzcontrol');
}

/** A well-behaved IMAP session of the harness's own. */
class ImapControl {
  private constructor(private readonly sock: BufferedSocket) {}

  static async login(env: FuzzEnv, account: string): Promise<ImapControl> {
    const sock = await BufferedSocket.connect(env.imapPort);
    const c = new ImapControl(sock);
    await readImapLine(sock, 15000);
    await c.command('l', `LOGIN ${account} "${env.password}"`);
    return c;
  }

  /** Runs a command; the untagged lines, or throws on a non-OK or no answer. */
  async command(tag: string, command: string, ms = 15000): Promise<string[]> {
    this.sock.send(`${tag} ${command}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const line = await readImapLine(this.sock, ms);
      if (!Buffer.isBuffer(line)) throw new Error(`${command}: ${line}`);
      const s = line.toString('utf8');
      if (s.startsWith(`${tag} `)) {
        if (!s.startsWith(`${tag} OK`)) throw new Error(`${command}: ${s}`);
        return lines;
      }
      lines.push(s);
    }
  }

  async noop(tag: string, ms: number): Promise<boolean> {
    return this.command(tag, 'NOOP', ms).then(
      () => true,
      () => false,
    );
  }

  close(): void {
    this.sock.close();
  }
}

function progressLine(r: FuzzReport, started: number, rss: number, rtt: number): string {
  const s = (Date.now() - started) / 1000;
  return `${s.toFixed(0)}s inputs=${r.inputs} rate=${(r.inputs / s).toFixed(0)}/s rss=${mb(rss)}MB noop=${rtt}ms failures=${r.failures.length}`;
}

const mb = (b: number): number => Math.round(b / 1048576);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The report as readable text. */
export function formatReport(r: FuzzReport): string {
  const lines = [`seed ${r.seed}: ${r.inputs} inputs in ${(r.elapsedMs / 1000).toFixed(1)} s (${Math.round((r.inputs * 1000) / Math.max(1, r.elapsedMs))}/s)`];
  lines.push('protocol/state            inputs  grammar  mutated  random  stalls  reconnects  violations  server-errors');
  for (const [k, s] of Object.entries(r.perState).sort()) {
    lines.push(
      `${k.padEnd(24)} ${String(s.inputs).padStart(7)}  ${String(s.kinds.grammar).padStart(7)}  ${String(s.kinds.mutated).padStart(7)}  ${String(s.kinds.random).padStart(6)}  ${String(s.stalls).padStart(6)}  ${String(s.reconnects).padStart(10)}  ${String(s.violations).padStart(10)}  ${String(s.serverErrors).padStart(13)}`,
    );
  }
  lines.push(
    `server RSS max ${mb(r.maxRss)} MB; samples (MB): ${r.rssSamples
      .filter((_, i, a) => i % Math.max(1, Math.floor(a.length / 12)) === 0)
      .map(mb)
      .join(' ')}`,
  );
  lines.push(
    `control NOOP round trip: p50 ${r.controlRttMs.p50} ms, p99 ${r.controlRttMs.p99} ms, max ${r.controlRttMs.max} ms (${r.controlRttMs.samples} samples)`,
  );
  const perInput = (ms: number): string => (ms / Math.max(1, r.inputs)).toFixed(2);
  lines.push(
    `CPU: server ${(r.cpuMs.server / 1000).toFixed(1)} s (${perInput(r.cpuMs.server)} ms per input), harness ${(r.cpuMs.harness / 1000).toFixed(1)} s (${perInput(r.cpuMs.harness)} ms per input)`,
  );
  for (const e of r.logErrors) lines.push(`server error log: ${e.count}× ${e.msg}: ${e.first.slice(0, 400)}`);
  lines.push(`failures: ${r.failures.length}`);
  for (const f of r.failures.slice(0, 40))
    lines.push(`  [${f.kind}] ${f.input ?? ''} ${f.detail.split('\n').join(' | ').slice(0, 600)}${f.reproducer ? ` (reproducer ${f.reproducer})` : ''}`);
  if (r.stalls.length > 0) lines.push(`stalls of unmutated grammar inputs: ${r.stalls.length}`);
  for (const f of r.stalls.slice(0, 10)) lines.push(`  ${f.input}${f.reproducer ? ` (${f.reproducer})` : ''}`);
  return lines.join('\n');
}
