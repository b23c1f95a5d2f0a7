/**
 * SQLite lock guard (issue 21): other processes writing to the server's
 * SQLite file — `mailkeep deliver` run by the MTA, `mailkeep import`, or
 * one simply holding the write lock — must not stall the server's sessions.
 * Beside a running `mailkeep serve` (SQLite store) sit IDLE sessions on
 * INBOX, one session sending STORE after STORE (a writer of the server that
 * competes for the lock), and a probe session with INBOX selected sending
 * NOOP after NOOP (each after the previous answered, 5 ms apart). The table
 * gives, per case, the probe's NOOP round trip p50/p99/max, the server's
 * STOREs' slowest answer, and the benchmark process's own longest
 * event-loop stall (when the machine starves the clients of CPU, their round
 * trips grow whatever the server does). Target: NOOP p99 ≤ 50 ms in every case.
 *
 *   node dist/bench/sqlite-lock-guard.js [--delivers 40] [--parallel 4] [--import 2000]
 *                                        [--hold-ms 2000] [--runs 3] [--keep]
 *
 * Cases: quiet (the floor: no other process); `--delivers` deliver
 * processes, `--parallel` at a time, each one message on stdin; one import
 * of an mbox of `--import` generated messages (bench/messages.ts) into a new
 * mailbox (200 messages a transaction); a process holding BEGIN IMMEDIATE for
 * `--hold-ms` while the server's STOREs wait for it. With --runs N each run
 * starts a fresh server; the table gives the median over the runs of each
 * figure, and stderr each run's.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { asctime } from '../src/mail/export/mbox-writer.js';
import { makeTempDir } from './bench-server.js';
import { intOption } from './cli-options.js';
import { ImapClient } from './imap-client.js';
import { REPO_ROOT, startMailkeep, type MailkeepServer } from './mailkeep.js';
import { generateMessage } from './messages.js';
import { sleep } from './proc.js';
import { median, percentile } from './stats.js';

const log = (msg: string): void => void process.stderr.write(`[sqlite-lock-guard ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const BIN = path.join(REPO_ROOT, 'bin/mailkeep.js');
const IDLERS = 4;
/** A CLI child that runs longer than this is killed and the case fails. */
const CHILD_TIMEOUT_MS = 300_000;

/** Runs a child to its end (stdin: `input`); rejects on a non-zero exit or after CHILD_TIMEOUT_MS. */
function runChild(args: string[], input: Buffer | null, ready?: (out: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: REPO_ROOT });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      ready?.(out);
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${args.slice(0, 3).join(' ')} exited ${code}: ${out.slice(-2000)}`));
    });
    child.stdin.end(input ?? undefined);
  });
}

/** `mailkeep deliver` of `count` messages, `parallel` processes at a time. */
async function deliverBurst(server: MailkeepServer, count: number, parallel: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await runChild([BIN, 'deliver', '--data-dir', server.dataDir, '--to', server.user], generateMessage(i, 'realistic').bytes);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
}

/** An mboxrd file of `count` generated messages. */
function writeMbox(file: string, count: number): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (let i = 0; i < count; i++) {
      const text = generateMessage(i, 'realistic').bytes.toString('latin1').replace(/\r\n/g, '\n');
      const quoted = text.replace(/(^|\n)(>*From )/g, '$1>$2');
      fs.writeSync(
        fd,
        `From bench@example.org ${asctime(new Date(1_700_000_000_000 + i * 1000))}\n${quoted}${quoted.endsWith('\n') ? '' : '\n'}\n`,
        null,
        'latin1',
      );
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The child's program: take the write lock, say so, hold it, commit. */
const LOCKER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));
`;

interface Row {
  case: string;
  ms: number;
  rtts: number[];
  /** Round trips of the server-side STOREs during the case. */
  stores: number[];
  storeFailures: number;
  /** The benchmark's own longest event-loop stall during the case: how starved of CPU the machine left the clients. */
  clientStallMs: number;
}

/** While `work` runs: NOOPs on `probe` and STOREs on `writer`, each loop one command at a time. */
async function measure(name: string, probe: ImapClient, writer: ImapClient, work: () => Promise<unknown>): Promise<Row> {
  const rtts: number[] = [];
  const stores: number[] = [];
  let storeFailures = 0;
  let done = false;
  const own = monitorEventLoopDelay({ resolution: 5 });
  own.enable();
  const noops = (async () => {
    while (!done) {
      const t = performance.now();
      await probe.ok('NOOP');
      rtts.push(performance.now() - t);
      await sleep(5);
    }
  })();
  const writes = (async () => {
    for (let k = 0; !done; k++) {
      const t = performance.now();
      const c = await writer.send(`STORE 1 ${k % 2 === 0 ? '+' : '-'}FLAGS.SILENT (\\Flagged)`);
      stores.push(performance.now() - t);
      if (c.status !== 'OK') storeFailures++;
      await sleep(50);
    }
  })();
  const t0 = performance.now();
  try {
    await work();
  } finally {
    done = true;
  }
  const ms = performance.now() - t0;
  await Promise.all([noops, writes]);
  own.disable();
  // The histogram records whole sampling intervals: the stall is what exceeds the 5 ms.
  return { case: name, ms, rtts, stores, storeFailures, clientStallMs: Math.max(0, own.max / 1e6 - 5) };
}

interface Options {
  delivers: number;
  parallel: number;
  imports: number;
  holdMs: number;
}

async function runCases(server: MailkeepServer, opts: Options, scratch: string): Promise<Row[]> {
  const setup = await ImapClient.login(server.port, server.user, server.password);
  const seed = 'Subject: seed\r\n\r\nseed\r\n';
  await setup.ok(`APPEND INBOX {${seed.length}+}\r\n${seed}`);
  await setup.logout();
  const probe = await ImapClient.login(server.port, server.user, server.password);
  const writer = await ImapClient.login(server.port, server.user, server.password);
  await probe.ok('SELECT INBOX');
  await writer.ok('SELECT INBOX');
  const idlers: ImapClient[] = [];
  for (let i = 0; i < IDLERS; i++) {
    const c = await ImapClient.login(server.port, server.user, server.password);
    await c.ok('SELECT INBOX');
    await c.idle();
    idlers.push(c);
  }
  const rows: Row[] = [];
  const run = async (name: string, work: () => Promise<unknown>): Promise<void> => {
    const r = await measure(name, probe, writer, work);
    rows.push(r);
    log(
      `${name}: ${r.ms.toFixed(0)} ms, NOOP p99 ${percentile(r.rtts, 99).toFixed(1)} max ${Math.max(...r.rtts).toFixed(1)} ms, STORE max ${Math.max(...r.stores).toFixed(0)} ms`,
    );
  };
  try {
    await run('quiet, 3 s', () => sleep(3000));
    await run(`deliver ×${opts.delivers} (${opts.parallel} at a time)`, () => deliverBurst(server, opts.delivers, opts.parallel));
    const mbox = path.join(scratch, 'import.mbox');
    writeMbox(mbox, opts.imports);
    await run(`import of ${opts.imports} msgs (mbox)`, () =>
      runChild([BIN, 'import', server.user, mbox, '--mailbox', 'Imported', '--data-dir', server.dataDir], null),
    );
    let locked: () => void = () => undefined;
    const taken = new Promise<void>((r) => (locked = r));
    const holder = runChild(['-e', LOCKER, path.join(server.dataDir, 'mailkeep.sqlite3'), String(opts.holdMs)], null, (out) => {
      if (out.includes('locked')) locked();
    });
    await taken;
    await run(`write lock held ${opts.holdMs} ms`, () => holder);
  } finally {
    for (const c of [probe, writer, ...idlers]) c.destroy();
  }
  return rows;
}

const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));

/** A row's figures: case time, NOOP p50/p99/max and count, slowest STORE, STOREs refused, the clients' own longest stall. */
function figures(r: Row): number[] {
  return [r.ms, percentile(r.rtts, 50), percentile(r.rtts, 99), Math.max(...r.rtts), r.rtts.length, Math.max(0, ...r.stores), r.storeFailures, r.clientStallMs];
}

function medianTable(rows: readonly Row[]): string[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(r.case, [...(groups.get(r.case) ?? []), r]);
  const lines = [
    "| case | case ms | NOOP p50 ms | NOOP p99 ms | NOOP max ms | NOOPs | slowest STORE ms | STOREs refused | clients' own stall ms |",
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, runs] of groups) {
    const per = runs.map(figures);
    const med = per[0]!.map((_, k) => median(per.map((f) => f[k]!)));
    lines.push(`| ${name} | ${med.map((v, k) => (k === 4 || k === 6 ? v.toFixed(0) : fmt(v))).join(' | ')} |`);
  }
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      delivers: { type: 'string', default: '40' },
      parallel: { type: 'string', default: '4' },
      import: { type: 'string', default: '2000' },
      'hold-ms': { type: 'string', default: '2000' },
      runs: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
    },
  });
  const opts: Options = {
    delivers: intOption('delivers', values.delivers, 1, 1000),
    parallel: intOption('parallel', values.parallel, 1, 32),
    imports: intOption('import', values.import, 1, 100_000),
    holdMs: intOption('hold-ms', values['hold-ms'], 100, 4000),
  };
  const runs = intOption('runs', values.runs, 1, 20);
  const rows: Row[] = [];
  for (let run = 1; run <= runs; run++) {
    const scratch = makeTempDir('bench-lock-guard');
    const server = await startMailkeep({ maxConnections: 20, keep: values.keep, quiet: true });
    try {
      const mine = await runCases(server, opts, scratch);
      rows.push(...mine);
      log(`run ${run}/${runs}: ${mine.map((r) => `${r.case}: ${figures(r).map(fmt).join('/')}`).join('; ')}`);
    } finally {
      await server.stop();
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }
  process.stdout.write(`${medianTable(rows).join('\n')}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
