/**
 * POP3 benchmark: RETR of 1,000 messages from INBOX, mailkeep against
 * Dovecot's POP3 (Debian's dovecot-pop3d) on 127.0.0.1 in one run, printed
 * as a Markdown table of medians and their ratio (above 1: mailkeep slower).
 *
 *   node dist/bench/pop3-retr.js [--messages 1000] [--runs 5] [--warmup 1]
 *                                [--servers mailkeep,dovecot] [--keep]
 *
 * Rows: (a) one RETR at a time, each sent after the previous response ended
 * (what most clients do); (b) all RETRs pipelined (RFC 2449 PIPELINING).
 * Each run is a fresh connection: USER/PASS and STAT untimed, then the RETRs
 * timed from the first byte sent to the last byte of the last response, then
 * QUIT without DELE. Messages are the main benchmark's realistic corpus
 * (messages.ts), APPENDed over IMAP with the main benchmark's populate() and
 * moved into INBOX; plain TCP, no TLS, as in the IMAP rows.
 *
 * The servers come from the shared launchers (dovecot.ts, mailkeep.ts) with
 * their POP3 listener on.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { BenchServer } from './bench-server.js';
import { startDovecot } from './dovecot.js';
import { REPO_ROOT, startMailkeep } from './mailkeep.js';
import { generateMessage } from './messages.js';
import { formatValue, markdownTable, type MetricResult } from './report.js';
import { populate, sizesFor, type Target } from './workload.js';
import { intOption } from './cli-options.js';

/** populate() fills the "mid" mailbox; its size is 10,000 × scale. */
const MID_MAILBOX = 'bench-mid';

/** A server under test with its POP3 port. */
type Pop3Server = BenchServer & { pop3Port: number };
/** Connections at once: one POP3 session and the few IMAP ones of populate(). */
const MAX_CONNECTIONS = 50;

const log = (msg: string): void => void process.stderr.write(`[pop3 bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---- client -------------------------------------------------------------

/** A response: its status line and, for multi-line ones, the body octets received (stuffed, terminator included). */
interface Reply {
  line: string;
  bytes: number;
}

const TERMINATOR = Buffer.from('\r\n.\r\n');
const EMPTY = Buffer.alloc(0);

/**
 * A minimal POP3 client that pipelines and never copies message bodies: it
 * only looks for the "CRLF.CRLF" that ends a multi-line response (stuffing
 * guarantees no message line is a lone "."), so its cost per byte is one
 * indexOf over each chunk.
 */
class Pop3BenchClient {
  private readonly queue: Array<{ multi: boolean; resolve(r: Reply): void; reject(e: Error): void }> = [];
  private statusParts: Buffer[] = [];
  private inBody = false;
  /** The last bytes of the body so far, to find a terminator split across chunks. */
  private tail: Buffer = EMPTY;
  private bodyBytes = 0;
  private greeted: ((line: string) => void) | null = null;

  private constructor(private readonly sock: net.Socket) {
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (err: Error): void => {
      for (const q of this.queue.splice(0)) q.reject(err);
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('connection closed')));
  }

  /** Connects and logs in with USER/PASS. */
  static async login(port: number, user: string, password: string): Promise<Pop3BenchClient> {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const c = new Pop3BenchClient(sock);
    const greeting = await new Promise<string>((resolve, reject) => {
      c.greeted = resolve;
      sock.once('error', reject);
    });
    if (!greeting.startsWith('+OK')) throw new Error(`greeting: ${greeting}`);
    await c.ok(`USER ${user}`);
    await c.ok(`PASS ${password}`);
    return c;
  }

  /** Sends one command line; resolves at its response. */
  send(line: string, multi = false): Promise<Reply> {
    const done = new Promise<Reply>((resolve, reject) => this.queue.push({ multi, resolve, reject }));
    this.sock.write(`${line}\r\n`);
    return done;
  }

  /** Sends a command and throws unless it answers +OK. */
  async ok(line: string, multi = false): Promise<Reply> {
    const r = await this.send(line, multi);
    if (!r.line.startsWith('+OK')) throw new Error(`${line.split(' ')[0]}: ${r.line}`);
    return r;
  }

  /** Sends many commands in one write (RFC 2449 PIPELINING); resolves with every response. */
  pipeline(lines: string[], multi: boolean): Promise<Reply[]> {
    const all = lines.map(() => new Promise<Reply>((resolve, reject) => this.queue.push({ multi, resolve, reject })));
    this.sock.write(lines.map((l) => `${l}\r\n`).join(''));
    return Promise.all(all);
  }

  /** Sends QUIT and closes. */
  async quit(): Promise<void> {
    try {
      await this.send('QUIT');
    } catch {
      // closed first: fine
    }
    this.sock.destroy();
  }

  private onData(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.inBody) {
        const rest = chunk.subarray(pos);
        const end = this.findTerminator(rest);
        if (end < 0) {
          this.bodyBytes += rest.length;
          this.tail = rest.length >= 4 ? Buffer.from(rest.subarray(-4)) : Buffer.concat([this.tail, rest]).subarray(-4);
          return;
        }
        this.bodyBytes += end;
        pos += end;
        this.inBody = false;
        this.queue.shift()!.resolve({ line: '+OK', bytes: this.bodyBytes });
        continue;
      }
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) {
        this.statusParts.push(Buffer.from(chunk.subarray(pos)));
        return;
      }
      this.statusParts.push(chunk.subarray(pos, nl + 1));
      pos = nl + 1;
      const line = Buffer.concat(this.statusParts)
        .toString('latin1')
        .replace(/\r?\n$/, '');
      this.statusParts = [];
      if (this.greeted) {
        const g = this.greeted;
        this.greeted = null;
        g(line);
        continue;
      }
      const head = this.queue[0];
      if (!head) throw new Error(`unexpected response: ${line.slice(0, 100)}`);
      if (head.multi && line.startsWith('+OK')) {
        this.inBody = true;
        this.tail = Buffer.from('\r\n'); // so an empty body's ".CRLF" matches too
        this.bodyBytes = 0;
        continue;
      }
      this.queue.shift();
      head.resolve({ line, bytes: 0 });
    }
  }

  /** Offset just past the terminator in `rest` (which continues `tail`), or -1. */
  private findTerminator(rest: Buffer): number {
    const edge = Buffer.concat([this.tail, rest.subarray(0, TERMINATOR.length - 1)]);
    const e = edge.indexOf(TERMINATOR);
    if (e >= 0) return e + TERMINATOR.length - this.tail.length;
    const i = rest.indexOf(TERMINATOR);
    return i < 0 ? -1 : i + TERMINATOR.length;
  }
}

// ---- the rows -----------------------------------------------------------

interface Options {
  messages: number;
  runs: number;
  warmup: number;
  servers: string[];
  keep: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '1000' },
      runs: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      servers: { type: 'string', default: 'mailkeep,dovecot' },
      keep: { type: 'boolean', default: false },
    },
  });
  const servers = values.servers.split(',').map((s) => s.trim());
  for (const s of servers) if (s !== 'mailkeep' && s !== 'dovecot') throw new Error(`--servers: unknown server ${s}`);
  return {
    messages: intOption('messages', values.messages, 100, 10_000),
    runs: intOption('runs', values.runs, 1, 100),
    warmup: intOption('warmup', values.warmup, 0, 10),
    servers,
    keep: values.keep,
  };
}

const ROWS = [
  { key: 'retr-serial', pipelined: false, label: 'RETR one at a time' },
  { key: 'retr-pipelined', pipelined: true, label: 'RETR pipelined' },
] as const;

/** One timed run: a fresh session, STAT, then RETR 1..n; returns ms and the octets received. */
async function measure(server: Pop3Server, n: number, pipelined: boolean): Promise<{ ms: number; detail: string }> {
  const c = await Pop3BenchClient.login(server.pop3Port, server.user, server.password);
  const stat = await c.ok('STAT');
  const [count, octets] = stat.line.split(' ').slice(1).map(Number) as [number, number];
  if (count !== n) throw new Error(`${server.name}: STAT says ${count} messages, expected ${n}`);
  const commands = Array.from({ length: n }, (_, i) => `RETR ${i + 1}`);
  const t0 = performance.now();
  let replies: Reply[];
  if (pipelined) replies = await c.pipeline(commands, true);
  else {
    replies = [];
    for (const cmd of commands) replies.push(await c.send(cmd, true));
  }
  const ms = performance.now() - t0;
  await c.quit();
  const failed = replies.find((r) => !r.line.startsWith('+OK'));
  if (failed) throw new Error(`${server.name}: RETR failed: ${failed.line}`);
  // What arrived is at least what STAT announced (plus stuffing dots and terminators).
  const received = replies.reduce((t, r) => t + r.bytes, 0);
  if (received < octets) throw new Error(`${server.name}: received ${received} octets, STAT announced ${octets}`);
  return { ms, detail: `${count} messages, ${(octets / 2 ** 20).toFixed(1)} MiB` };
}

async function main(): Promise<void> {
  const opts = options();
  const scale = opts.messages / sizesFor(1).mid;
  const sizes = sizesFor(scale);
  log(`generating ${sizes.mid} messages`);
  const corpus = Array.from({ length: sizes.mid }, (_, i) => generateMessage(i));
  const servers: Pop3Server[] = [];
  const results = new Map<string, MetricResult>();
  const errors = new Map<string, string>();
  try {
    for (const name of opts.servers) {
      log(`starting ${name}`);
      const launch = { maxConnections: MAX_CONNECTIONS, keep: opts.keep, pop3: true };
      const server = name === 'mailkeep' ? await startMailkeep(launch) : await startDovecot(launch);
      servers.push({ ...server, pop3Port: server.pop3Port! }); // asked for: never null
    }
    const targets: Target[] = servers.map((server) => ({ server, conns: new Map() }));
    log(`filling INBOX with ${sizes.mid} messages`);
    await populate(targets, 'mid', sizes, corpus);
    for (const t of targets) {
      const c = t.conns.get('populate')!;
      await c.ok(`SELECT ${MID_MAILBOX}`);
      await c.ok('MOVE 1:* INBOX'); // RFC 6851
      await c.logout();
      t.conns.clear();
    }
    for (const row of ROWS) {
      for (let run = 0; run < opts.warmup + opts.runs; run++) {
        const order = run % 2 === 0 ? servers : [...servers].reverse();
        for (const server of order) {
          if (errors.has(`${server.name}:${row.key}`)) continue;
          try {
            const { ms, detail } = await measure(server, sizes.mid, row.pipelined);
            let r = results.get(row.key);
            if (!r) {
              r = {
                row: `P${ROWS.indexOf(row) + 1}`,
                key: row.key,
                label: `${row.label}, ${sizes.mid} messages`,
                unit: 'ms',
                samples: new Map(),
                details: new Map(),
                first: new Map(),
              };
              results.set(row.key, r);
            }
            if (run < opts.warmup) {
              if (run === 0) r.first.set(server.name, ms);
            } else r.samples.set(server.name, [...(r.samples.get(server.name) ?? []), ms]);
            r.details.set(server.name, detail);
            log(`${row.key} ${run < opts.warmup ? 'warm-up' : `run ${run - opts.warmup + 1}/${opts.runs}`} ${server.name}: ${formatValue(ms, 'ms')}`);
          } catch (err) {
            errors.set(`${server.name}:${row.key}`, (err as Error).message);
            log(`${row.key} on ${server.name} failed: ${(err as Error).message}\n${server.logTail()}`);
          }
        }
      }
    }
    const list = [...results.values()];
    const table = markdownTable(list, ['mailkeep', 'dovecot'], [['mailkeep', 'dovecot']], errors);
    const cpus = os.cpus();
    const notes = [
      `- ${new Date().toISOString()}; ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}; node ${process.version}.`,
      `- Servers: ${servers.map((s) => s.version).join('; ')}. Plain TCP on 127.0.0.1, USER/PASS, no TLS.`,
      `- ${opts.runs} measured runs per row after ${opts.warmup} warm-up run(s), median shown; each run is a new session (login and STAT untimed).`,
      ...list.flatMap((r) =>
        servers.map(
          (s) =>
            `- ${r.row} ${s.name}: ${r.details.get(s.name) ?? ''}; first (cold) ${formatValue(r.first.get(s.name) ?? NaN, 'ms')}; runs ${(r.samples.get(s.name) ?? []).map((x) => formatValue(x, 'ms')).join(' / ')}`,
        ),
      ),
      ...[...errors].map(([k, msg]) => `- ERROR ${k}: ${msg}`),
    ];
    const text = `${table}\n\nNotes:\n${notes.join('\n')}\n`;
    process.stdout.write(`\n${text}`);
    const dir = path.join(REPO_ROOT, 'bench/results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `pop3-${new Date().toISOString().replace(/[:.]/g, '-')}.md`);
    fs.writeFileSync(file, text);
    log(`results written to ${path.relative(REPO_ROOT, file)}`);
    if (errors.size > 0) process.exitCode = 1;
  } finally {
    await Promise.allSettled(servers.map((s) => s.stop()));
  }
}

await main();
