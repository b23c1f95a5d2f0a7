/**
 * Runs mailkeep from this checkout (`bin/mailkeep.js`, built into dist/) for
 * the benchmarks: a fresh data dir (or a PostgreSQL store URL), IMAP (plus
 * POP3 or LMTP when asked) on 127.0.0.1 at free ports, cleartext LOGIN allowed
 * from loopback, the users created with the CLI.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeTempDir, tailFile, type BenchServer, type ServerOptions } from './bench-server.js';
import { createBenchDatabase } from './pg-database.js';
import { freePort, sleep, processTree, spawnWithNofile, stopChild, treeCpuNs, treeMemory, waitForPort } from './proc.js';

/** The repository root (this file runs from dist/bench/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The mailkeep executable. */
export const BIN = path.join(REPO_ROOT, 'bin/mailkeep.js');
const USER = 'bench';
const PASSWORD = 'bench-password';
const STARTED = 'mailkeep started';
/** Lets the benchmark trigger a full GC in the server before reading its memory. */
const GC_HOOK = path.join(path.dirname(fileURLToPath(import.meta.url)), 'gc-hook.js');
/** Time for the collection to finish and the pages to be returned. */
const GC_WAIT_MS = 500;

/** Options of the mailkeep launcher beyond the common ones. */
export interface MailkeepOptions extends ServerOptions {
  /** Directory for a V8 CPU profile of the server (node --cpu-prof), or null. */
  cpuProfDir?: string | null;
  /** Extra node command-line flags (e.g. --single-threaded-gc). */
  nodeFlags?: readonly string[];
  /** Also listen for POP3. */
  pop3?: boolean;
  /** Also listen for LMTP. */
  lmtp?: boolean;
  /** Also listen for ManageSieve. */
  managesieve?: boolean;
  /** Accounts to create; the first is the BenchServer's `user`. Default: one "bench". */
  users?: readonly string[];
  /** Log only warnings, so per-message info lines do not weigh on a throughput row. */
  quiet?: boolean;
  /** The server's name in tables (default "mailkeep"). */
  name?: string;
  /** A `postgres://` store URL; absent: SQLite in the temp data dir. */
  storeUrl?: string;
  /** Create the users (default true); false for a second node on a store that has them. */
  createUsers?: boolean;
  /** Worker processes (`serve --workers`; default 1: one process, no cluster). */
  workers?: number;
  /** More settings as MAILKEEP_* environment variables (e.g. the [oauth] issuer). */
  settings?: Record<string, string>;
}

/** A running mailkeep: IMAP on `port`, and the optional listeners. */
export interface MailkeepServer extends BenchServer {
  /** The server's data directory (its SQLite store, unless on PostgreSQL). */
  dataDir: string;
  pop3Port: number | null;
  lmtpPort: number | null;
  managesievePort: number | null;
}

/** Creates the users and starts `mailkeep serve`. */
export async function startMailkeep(opts: MailkeepOptions): Promise<MailkeepServer> {
  const users = opts.users ?? [USER];
  const dir = makeTempDir('bench-mailkeep');
  const dataDir = path.join(dir, 'data');
  const log = path.join(dir, 'mailkeep.log');
  const storeArgs = opts.storeUrl ? ['--store', opts.storeUrl] : [];
  for (const user of opts.createUsers === false ? [] : users) {
    const add = spawnSync(process.execPath, [BIN, 'user', 'add', user, '--password-stdin', '--data-dir', dataDir, ...storeArgs], {
      input: `${PASSWORD}\n`,
      encoding: 'utf8',
    });
    if (add.status !== 0) throw new Error(`mailkeep user add failed: ${add.stderr}${add.stdout}`);
  }
  const version = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  const port = await freePort();
  const pop3Port = opts.pop3 ? await freePort() : null;
  const lmtpPort = opts.lmtp ? await freePort() : null;
  const managesievePort = opts.managesieve ? await freePort() : null;
  const env = {
    ...process.env,
    MAILKEEP_PLAINTEXT_AUTH__TRUSTED_NETWORKS: '127.0.0.1/32',
    MAILKEEP_LIMITS__MAX_CONNECTIONS: String(opts.maxConnections + 100),
    MAILKEEP_LIMITS__MAX_CONNECTIONS_PER_IP: String(opts.maxConnections + 100),
    ...(opts.quiet ? { MAILKEEP_LOG__LEVEL: 'warn' } : {}),
    ...opts.settings,
  };
  const nodeArgs = [
    ...(opts.nodeFlags ?? []),
    '--expose-gc',
    '--import',
    pathToFileURL(GC_HOOK).href,
    ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []),
  ];
  const args = [
    ...nodeArgs,
    BIN,
    'serve',
    '--data-dir',
    dataDir,
    ...storeArgs,
    '--host',
    '127.0.0.1',
    '--imap-port',
    String(port),
    '--imaps-port',
    '0',
    '--pop3-port',
    String(pop3Port ?? 0),
    '--pop3s-port',
    '0',
    '--http-port',
    '0',
    '--https-port',
    '0',
    '--admin-port',
    '0',
    '--lmtp-port',
    String(lmtpPort ?? 0),
    '--workers',
    String(opts.workers ?? 1),
    '--managesieve-port',
    String(managesievePort ?? 0),
  ];
  const child = spawnWithNofile(process.execPath, args, 4 * opts.maxConnections + 1024, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('cannot spawn mailkeep');
  const pid = child.pid;
  const logStream = fs.createWriteStream(log);
  child.stdout!.pipe(logStream);
  child.stderr!.pipe(logStream);
  const started = new Promise<void>((resolve) => {
    let seen = '';
    const watch = (d: Buffer): void => {
      seen = (seen + d.toString('utf8')).slice(-4096);
      if (seen.includes(STARTED)) {
        child.stdout!.off('data', watch);
        resolve();
      }
    };
    child.stdout!.on('data', watch);
  });
  const listening = async (): Promise<void> => {
    for (const p of [port, pop3Port, lmtpPort, managesievePort]) if (p !== null) await waitForPort(p, child, 30_000, 'mailkeep');
    // A cluster listens once its first worker does: wait until every worker has answered a connection.
    if ((opts.workers ?? 1) > 1) await waitForWorkers(port, opts.workers ?? 1, 60_000);
  };
  try {
    // A quiet server does not log its start line: then its listening ports are the sign.
    await (opts.quiet ? listening() : Promise.race([started, listening().then(() => started)]));
  } catch (err) {
    await stopChild(child);
    throw new Error(`${(err as Error).message}\n${tailFile(log)}`);
  }
  return {
    name: opts.name ?? 'mailkeep',
    version: `mailkeep ${version} (node ${[process.version, ...(opts.nodeFlags ?? [])].join(' ')}${opts.storeUrl ? ', PostgreSQL store' : ''}${(opts.workers ?? 1) > 1 ? `, ${opts.workers} workers` : ''})`,
    port,
    dataDir,
    pop3Port,
    lmtpPort,
    managesievePort,
    user: users[0] ?? USER,
    password: PASSWORD,
    memory: () => treeMemory(pid),
    pids: () => processTree(pid),
    cpuNs: () => treeCpuNs(pid),
    async collectGarbage() {
      process.kill(pid, 'SIGUSR2'); // our child only: gc-hook.js collects garbage
      await sleep(GC_WAIT_MS);
    },
    logTail: () => tailFile(log),
    async stop() {
      await stopChild(child, 15_000);
      logStream.end();
      if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Connects until the ID responses (`x-worker`) have named `workers` distinct workers, or the time is up. */
async function waitForWorkers(port: number, workers: number, timeoutMs: number): Promise<void> {
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  while (seen.size < workers) {
    if (Date.now() > deadline) throw new Error(`only workers ${[...seen].join(', ')} of ${workers} answered`);
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      const done = (): void => {
        socket.destroy();
        resolve(text);
      };
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes('\r\nb ')) done();
      });
      socket.on('error', done);
      socket.setTimeout(5000, done);
      socket.write('a ID NIL\r\nb LOGOUT\r\n');
    });
    const slot = /"x-worker" "(\d+)"/.exec(reply)?.[1];
    if (slot !== undefined) seen.add(slot);
    else await sleep(100);
  }
}

/** mailkeep on a throwaway PostgreSQL database (pg-database.ts), dropped again when the server stops. */
export async function startMailkeepPg(opts: MailkeepOptions): Promise<MailkeepServer> {
  const db = await createBenchDatabase();
  let server: MailkeepServer;
  try {
    server = await startMailkeep({ name: 'mailkeep-pg', ...opts, storeUrl: db.url });
  } catch (err) {
    await db.drop();
    throw err;
  }
  return {
    ...server,
    version: `${server.version.slice(0, -1)} ${db.name})`,
    async stop() {
      try {
        await server.stop();
      } finally {
        await db.drop();
      }
    },
  };
}
