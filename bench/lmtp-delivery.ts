/**
 * LMTP benchmark: deliveries per second into mailkeep and into Dovecot's LMTP
 * (Debian's dovecot-lmtpd) on 127.0.0.1 in one run, printed as a Markdown
 * table of medians and their ratio (here throughput: above 1, mailkeep
 * delivers faster).
 *
 *   node dist/bench/lmtp-delivery.js [--messages 2000] [--runs 3]
 *                                    [--servers mailkeep,dovecot] [--keep]
 *                                    [--sieve-rules 50] [--cpu-prof]
 *
 * With --sieve-rules N (1–50) it compares mailkeep without a script against
 * mailkeep whose every recipient has the first N rules of the benchmark's
 * 50-rule script active (fifty-rules.ts; issue 24 wants within 20 %).
 * Beside the rates it prints each server's CPU time per delivery (its whole
 * process tree, median of the runs): on a shared machine the rates follow
 * the load, the CPU time much less. --cpu-prof writes a V8 profile of each
 * mailkeep (bench/results/prof-lmtp-*; see profile-summary.ts).
 *
 * Rows: (a) one connection, one recipient per transaction; (b) ten
 * connections at once, the messages shared among them; (c) one connection,
 * ten recipients per transaction (each copy counts as a delivery). A
 * transaction is MAIL, RCPT… and DATA pipelined (RFC 2920), then the
 * dot-stuffed message after the 354; it is timed from the first transaction's
 * first byte to the last transaction's last reply. Messages are the main
 * benchmark's realistic corpus (messages.ts), stuffed before timing.
 *
 * Durability is each server's default: mailkeep answers 250 after a durable
 * commit (DESIGN invariant 1); Dovecot fsyncs each saved maildir file
 * (mail_fsync = optimized). The servers come from the shared launchers
 * (dovecot.ts, mailkeep.ts) with their LMTP listener on; mailkeep logs only
 * warnings, so per-delivery log lines do not weigh on its rate.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startDovecot } from './dovecot.js';
import { BIN, type MailkeepServer, REPO_ROOT, startMailkeep } from './mailkeep.js';
import { fiftyRules } from './fifty-rules.js';
import { generateMessage } from './messages.js';
import { median } from './stats.js';

/** Accounts that receive mail: bench0 … bench9 (row c addresses all ten at once). */
const USERS = Array.from({ length: 10 }, (_, i) => `bench${i}`);
const DOMAIN = 'example.com';
const SENDER = 'sender@example.org';
/** Connections at once: the ten of row b, and room to spare. */
const MAX_CONNECTIONS = 50;

/** A server with an LMTP port. */
interface LmtpServer {
  name: string;
  version: string;
  port: number;
  logTail(): string;
  /** CPU time of the server's process tree so far, in nanoseconds. */
  cpuNs(): number;
  stop(): Promise<void>;
}

const log = (msg: string): void => void process.stderr.write(`[lmtp bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---- client -------------------------------------------------------------

/** A minimal pipelining LMTP client: counts replies, keeps only their codes. */
class LmtpBenchClient {
  private buf = '';
  private readonly codes: number[] = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;

  private constructor(private readonly sock: net.Socket) {
    sock.setNoDelay(true);
    sock.setEncoding('latin1');
    sock.on('data', (text: string) => {
      this.buf += text;
      for (let eol = this.buf.indexOf('\r\n'); eol >= 0; eol = this.buf.indexOf('\r\n')) {
        const line = this.buf.slice(0, eol);
        this.buf = this.buf.slice(eol + 2);
        if (line[3] === ' ') this.codes.push(Number(line.slice(0, 3)));
      }
      this.wake();
    });
    const fail = (err: Error): void => {
      this.failure = err;
      this.wake();
    };
    sock.on('error', fail);
    sock.on('close', () => fail(new Error('connection closed')));
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Connects, reads the greeting and says LHLO. */
  static async open(port: number): Promise<LmtpBenchClient> {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const client = new LmtpBenchClient(sock);
    await client.expect(1, 220);
    sock.write('LHLO bench.example\r\n');
    await client.expect(1, 250);
    return client;
  }

  /** Waits for `n` more replies: all 250 but the last, which must be `last`. */
  private async expect(n: number, last: number): Promise<void> {
    while (this.codes.length < n) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const got = this.codes.splice(0, n);
    if (got.some((c, i) => c !== (i === n - 1 ? last : 250))) throw new Error(`unexpected replies ${got.join(' ')}`);
  }

  /** One transaction: envelope and DATA pipelined, then the stuffed message; resolves after every recipient's 250. */
  async deliver(recipients: readonly string[], stuffed: Buffer): Promise<void> {
    this.sock.write(`MAIL FROM:<${SENDER}>\r\n${recipients.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
    await this.expect(recipients.length + 2, 354);
    this.sock.write(stuffed);
    await this.expect(recipients.length, 250);
  }

  close(): void {
    this.sock.end('QUIT\r\n');
  }
}

/** RFC 5321 §4.5.2 dot-stuffing plus the end-of-data line (messages.ts writes CRLF line ends). */
function stuff(message: Buffer): Buffer {
  const text = message.toString('latin1');
  const ended = text.endsWith('\r\n') ? text : `${text}\r\n`;
  return Buffer.from(`${ended.replace(/(^|\r\n)\./g, '$1..')}.\r\n`, 'latin1');
}

// ---- rows ---------------------------------------------------------------

interface Row {
  id: string;
  label: string;
  connections: number;
  recipientsPerMessage: number;
}

const ROWS: Row[] = [
  { id: 'a', label: '1 connection, 1 recipient per message', connections: 1, recipientsPerMessage: 1 },
  { id: 'b', label: '10 connections, 1 recipient per message', connections: 10, recipientsPerMessage: 1 },
  { id: 'c', label: '1 connection, 10 recipients per message', connections: 1, recipientsPerMessage: 10 },
];

/** Delivers every message of the row once; returns deliveries (recipient copies) per second and the server's CPU µs per delivery. */
async function runRow(server: LmtpServer, row: Row, messages: readonly Buffer[]): Promise<{ rate: number; cpuUs: number }> {
  const clients = await Promise.all(Array.from({ length: row.connections }, () => LmtpBenchClient.open(server.port)));
  let next = 0;
  const cpuBefore = server.cpuNs();
  const started = performance.now();
  await Promise.all(
    clients.map(async (client, c) => {
      for (let i = next++; i < messages.length; i = next++) {
        const first = (i + c) % USERS.length;
        const recipients = Array.from({ length: row.recipientsPerMessage }, (_, k) => `${USERS[(first + k) % USERS.length]}@${DOMAIN}`);
        await client.deliver(recipients, messages[i]!);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const deliveries = messages.length * row.recipientsPerMessage;
  const cpuUs = (server.cpuNs() - cpuBefore) / 1000 / deliveries;
  for (const client of clients) client.close();
  return { rate: deliveries / seconds, cpuUs };
}

function options() {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '2000' },
      runs: { type: 'string', default: '3' },
      servers: { type: 'string', default: 'mailkeep,dovecot' },
      keep: { type: 'boolean', default: false },
      'sieve-rules': { type: 'string', default: '0' },
      'cpu-prof': { type: 'boolean', default: false },
    },
  });
  const sieveRules = Number(values['sieve-rules']);
  if (!Number.isInteger(sieveRules) || sieveRules < 0 || sieveRules > 50) throw new Error('--sieve-rules must be a whole number in [0, 50]');
  const messages = Number(values.messages);
  const runs = Number(values.runs);
  if (!Number.isInteger(messages) || messages < 10 || messages > 100_000) throw new Error('--messages must be a whole number in [10, 100000]');
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--runs must be a whole number in [1, 20]');
  const servers = sieveRules > 0 ? ['mailkeep', SIEVE_SERVER] : values.servers.split(',').map((s) => s.trim());
  for (const s of servers) if (s !== 'mailkeep' && s !== 'dovecot' && s !== SIEVE_SERVER) throw new Error(`--servers: unknown server ${s}`);
  return { messages, runs, servers, keep: values.keep, sieveRules, cpuProf: values['cpu-prof'] };
}

/** The server name of mailkeep with a script active for every user (--sieve-rules). */
const SIEVE_SERVER = 'mailkeep+sieve';

/** Makes the first `rules` rules of the 50-rule script every bench user's active script. */
function activateRules(server: MailkeepServer, rules: number): void {
  const script = fiftyRules()
    .split('\n')
    .slice(0, rules + 1)
    .join('\n');
  for (const user of USERS) {
    const put = spawnSync(process.execPath, [BIN, 'sieve', 'put', user, 'bench', '--activate', '--data-dir', server.dataDir], {
      input: script,
      encoding: 'utf8',
    });
    if (put.status !== 0) throw new Error(`mailkeep sieve put failed: ${put.stderr}${put.stdout}`);
  }
}

async function main(): Promise<void> {
  const opts = options();
  const stuffed = Array.from({ length: opts.messages }, (_, i) => stuff(generateMessage(i).bytes));
  const bytes = stuffed.reduce((n, m) => n + m.length, 0);
  log(`${opts.messages} messages, ${(bytes / 2 ** 20).toFixed(1)} MiB; ${opts.runs} runs per row and server`);
  const servers: LmtpServer[] = [];
  const samples = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const resultsDir = path.join(REPO_ROOT, 'bench', 'results');
  try {
    for (const name of opts.servers) {
      const launch = { maxConnections: MAX_CONNECTIONS, keep: opts.keep, lmtp: true, users: USERS };
      if (name === 'dovecot') {
        const server = await startDovecot(launch);
        servers.push({ ...server, port: server.lmtpPort! }); // asked for: never null
        continue;
      }
      const cpuProfDir = opts.cpuProf ? path.join(resultsDir, `prof-lmtp-${stamp}`, name) : null;
      const server = await startMailkeep({ ...launch, quiet: true, name, cpuProfDir });
      servers.push({ ...server, port: server.lmtpPort! });
      if (name === SIEVE_SERVER) activateRules(server, opts.sieveRules);
    }
    for (const row of ROWS) {
      for (let run = 0; run < opts.runs; run++) {
        // Alternate the order per run so drift hits both servers alike.
        const order = run % 2 === 0 ? servers : [...servers].reverse();
        for (const server of order) {
          let result: { rate: number; cpuUs: number };
          try {
            result = await runRow(server, row, stuffed);
          } catch (err) {
            throw new Error(`${server.name}, row ${row.id}: ${(err as Error).message}\n${server.logTail()}`);
          }
          const key = `${server.name}:${row.id}`;
          samples.set(key, [...(samples.get(key) ?? []), result.rate]);
          cpu.set(key, [...(cpu.get(key) ?? []), result.cpuUs]);
          log(`${server.name} row ${row.id} run ${run + 1}: ${result.rate.toFixed(0)} deliveries/s, ${result.cpuUs.toFixed(0)} µs CPU per delivery`);
        }
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  const cell = (server: string, row: Row): number => median(samples.get(`${server}:${row.id}`) ?? []);
  const cpuCell = (server: string, row: Row): number => median(cpu.get(`${server}:${row.id}`) ?? []);
  const cpus = os.cpus();
  // Columns: with --sieve-rules the script run against the plain one, else mailkeep against Dovecot.
  const [first, second] = opts.sieveRules > 0 ? [SIEVE_SERVER, 'mailkeep'] : ['mailkeep', 'dovecot'];
  const lines = [
    `LMTP deliveries per second (median of ${opts.runs}), ${opts.messages} messages per run${opts.sieveRules > 0 ? `, ${opts.sieveRules} Sieve rules` : ''}; ${servers.map((s) => s.version).join(' vs ')};`,
    `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, Linux ${os.release()}.`,
    '',
    `| row | ${first} | ${second} | ratio ${first}/${second} (above 1: ${first} faster) | CPU µs per delivery, ${first} / ${second} |`,
    '| --- | ---: | ---: | ---: | ---: |',
    ...ROWS.map((row) => {
      const [a, b] = [cell(first, row), cell(second, row)];
      const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '–');
      const ratio = (x: number, y: number): string => (Number.isFinite(x / y) ? (x / y).toFixed(2) : '–');
      const [ca, cb] = [cpuCell(first, row), cpuCell(second, row)];
      return `| ${row.id}. ${row.label} | ${fmt(a)} | ${fmt(b)} | ${ratio(a, b)} | ${fmt(ca)} / ${fmt(cb)} = ${ratio(ca, cb)} |`;
    }),
  ];
  const table = lines.join('\n');
  process.stdout.write(`${table}\n`);
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, `lmtp-${stamp}.md`), `${table}\n`);
  fs.writeFileSync(
    path.join(resultsDir, `lmtp-${stamp}.json`),
    JSON.stringify({ rates: Object.fromEntries(samples), cpuUs: Object.fromEntries(cpu) }, null, 2),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
