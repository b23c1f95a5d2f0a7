/**
 * LMTP benchmark: deliveries per second into mailkeep and into Dovecot's LMTP
 * (Debian's dovecot-lmtpd) on 127.0.0.1 in one run, printed as a Markdown
 * table of medians and their ratio (here throughput: above 1, mailkeep
 * delivers faster).
 *
 *   node dist/bench/lmtp-delivery.js [--messages 2000] [--runs 3]
 *                                    [--servers mailkeep,dovecot] [--keep]
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
 * (mail_fsync = optimized). The servers are started here because the shared
 * launchers (dovecot.ts, mailkeep.ts) have no LMTP listener; the helpers are
 * shared.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { makeTempDir, tailFile } from './bench-server.js';
import { REPO_ROOT } from './mailkeep.js';
import { generateMessage } from './messages.js';
import { freePort, spawnWithNofile, stopChild, waitForPort } from './proc.js';
import { median } from './stats.js';

/** Accounts that receive mail: bench0 … bench9 (row c addresses all ten at once). */
const USERS = Array.from({ length: 10 }, (_, i) => `bench${i}`);
const DOMAIN = 'example.com';
const SENDER = 'sender@example.org';
/** Dovecot refuses UID 0 for mail access: the mailboxes belong to nobody. */
const NOBODY = 65534;

/** A server with an LMTP port. */
interface LmtpServer {
  name: string;
  version: string;
  port: number;
  logTail(): string;
  stop(): Promise<void>;
}

const log = (msg: string): void => void process.stderr.write(`[lmtp bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---- servers ------------------------------------------------------------

/** mailkeep from this checkout, LMTP only, with the ten accounts. */
async function startMailkeep(keep: boolean): Promise<LmtpServer> {
  const dir = makeTempDir('bench-lmtp-mailkeep');
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'mailkeep.log');
  const bin = path.join(REPO_ROOT, 'bin/mailkeep.js');
  for (const user of USERS) {
    const add = spawnSync(process.execPath, [bin, 'user', 'add', user, '--password-stdin', '--data-dir', dataDir], { input: 'bench-password\n', encoding: 'utf8' });
    if (add.status !== 0) throw new Error(`mailkeep user add failed: ${add.stderr}${add.stdout}`);
  }
  const port = await freePort();
  const args = [bin, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--imap-port', '0', '--imaps-port', '0', '--pop3-port', '0',
    '--pop3s-port', '0', '--lmtp-port', String(port)];
  const child = spawnWithNofile(process.execPath, args, 4096, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MAILKEEP_LOG__LEVEL: 'warn' } });
  const out = fs.createWriteStream(logFile);
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  try {
    await waitForPort(port, child, 30_000, 'mailkeep');
  } catch (err) {
    await stopChild(child);
    throw new Error(`${(err as Error).message}\n${tailFile(logFile)}`);
  }
  const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return {
    name: 'mailkeep',
    version: `mailkeep ${version} (node ${process.version})`,
    port,
    logTail: () => tailFile(logFile),
    async stop() {
      await stopChild(child, 15_000);
      out.end();
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Dovecot with only LMTP: maildir per user, Dovecot's default durability and process model. */
function dovecotConfig(dir: string, port: number): string {
  return `base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
mail_location = maildir:~/Maildir
postmaster_address = postmaster@${DOMAIN}
auth_username_format = %Ln
passdb {
  driver = passwd-file
  args = ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${port}
  }
}
service stats {
  inet_listener http {
    port = 0
  }
}
`;
}

/** Dovecot's LMTP with the ten users; needs root and dovecot-lmtpd. */
async function startDovecot(keep: boolean): Promise<LmtpServer> {
  const dir = makeTempDir('bench-lmtp-dovecot');
  const port = await freePort();
  for (const sub of ['run', 'state', 'home']) fs.mkdirSync(path.join(dir, sub), { mode: 0o755 });
  const lines = USERS.map((u) => {
    const home = path.join(dir, 'home', u);
    fs.mkdirSync(home);
    fs.chownSync(home, NOBODY, NOBODY);
    return `${u}:{PLAIN}bench-password:${NOBODY}:${NOBODY}::${home}::\n`;
  });
  fs.writeFileSync(path.join(dir, 'passwd'), lines.join(''));
  const conf = path.join(dir, 'dovecot.conf');
  fs.writeFileSync(conf, dovecotConfig(dir, port));
  const logFile = path.join(dir, 'dovecot.log');
  const version = execFileSync('dovecot', ['--version']).toString().trim();
  const child = spawnWithNofile('dovecot', ['-F', '-c', conf], 4096, { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitForPort(port, child, 15_000, 'dovecot');
  } catch (err) {
    await stopChild(child);
    throw new Error(`${(err as Error).message}\n${tailFile(logFile)}\n(is dovecot-lmtpd installed?)`);
  }
  return {
    name: 'dovecot',
    version: `Dovecot ${version}`,
    port,
    logTail: () => tailFile(logFile),
    async stop() {
      await stopChild(child);
      if (!keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

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

/** Delivers every message of the row once; returns deliveries (recipient copies) per second. */
async function runRow(server: LmtpServer, row: Row, messages: readonly Buffer[]): Promise<number> {
  const clients = await Promise.all(Array.from({ length: row.connections }, () => LmtpBenchClient.open(server.port)));
  let next = 0;
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
  for (const client of clients) client.close();
  return (messages.length * row.recipientsPerMessage) / seconds;
}

function options() {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '2000' },
      runs: { type: 'string', default: '3' },
      servers: { type: 'string', default: 'mailkeep,dovecot' },
      keep: { type: 'boolean', default: false },
    },
  });
  const messages = Number(values.messages);
  const runs = Number(values.runs);
  if (!Number.isInteger(messages) || messages < 10 || messages > 100_000) throw new Error('--messages must be a whole number in [10, 100000]');
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--runs must be a whole number in [1, 20]');
  const servers = values.servers.split(',').map((s) => s.trim());
  for (const s of servers) if (s !== 'mailkeep' && s !== 'dovecot') throw new Error(`--servers: unknown server ${s}`);
  return { messages, runs, servers, keep: values.keep };
}

async function main(): Promise<void> {
  const opts = options();
  const stuffed = Array.from({ length: opts.messages }, (_, i) => stuff(generateMessage(i).bytes));
  const bytes = stuffed.reduce((n, m) => n + m.length, 0);
  log(`${opts.messages} messages, ${(bytes / 2 ** 20).toFixed(1)} MiB; ${opts.runs} runs per row and server`);
  const servers: LmtpServer[] = [];
  const samples = new Map<string, number[]>();
  try {
    for (const name of opts.servers) servers.push(name === 'mailkeep' ? await startMailkeep(opts.keep) : await startDovecot(opts.keep));
    for (const row of ROWS) {
      for (let run = 0; run < opts.runs; run++) {
        // Alternate the order per run so drift hits both servers alike.
        const order = run % 2 === 0 ? servers : [...servers].reverse();
        for (const server of order) {
          let rate: number;
          try {
            rate = await runRow(server, row, stuffed);
          } catch (err) {
            throw new Error(`${server.name}, row ${row.id}: ${(err as Error).message}\n${server.logTail()}`);
          }
          const key = `${server.name}:${row.id}`;
          samples.set(key, [...(samples.get(key) ?? []), rate]);
          log(`${server.name} row ${row.id} run ${run + 1}: ${rate.toFixed(0)} deliveries/s`);
        }
      }
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
  const cell = (server: string, row: Row): number => median(samples.get(`${server}:${row.id}`) ?? []);
  const cpus = os.cpus();
  const lines = [
    `LMTP deliveries per second (median of ${opts.runs}), ${opts.messages} messages per run; ${servers.map((s) => s.version).join(' vs ')};`,
    `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, Linux ${os.release()}.`,
    '',
    '| row | mailkeep | dovecot | ratio mailkeep/dovecot (above 1: mailkeep faster) |',
    '| --- | ---: | ---: | ---: |',
    ...ROWS.map((row) => {
      const [a, b] = [cell('mailkeep', row), cell('dovecot', row)];
      const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(0) : '–');
      return `| ${row.id}. ${row.label} | ${fmt(a)} | ${fmt(b)} | ${Number.isFinite(a / b) ? (a / b).toFixed(2) : '–'} |`;
    }),
  ];
  const table = lines.join('\n');
  process.stdout.write(`${table}\n`);
  const resultsDir = path.join(REPO_ROOT, 'bench', 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.writeFileSync(path.join(resultsDir, `lmtp-${stamp}.md`), `${table}\n`);
  fs.writeFileSync(path.join(resultsDir, `lmtp-${stamp}.json`), JSON.stringify(Object.fromEntries(samples), null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
