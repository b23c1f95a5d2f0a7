/**
 * Starts a real mailkeep server for tests: in-process on free loopback ports
 * with a throwaway data directory, or as a child process (crash tests).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { hashPassword, passwordHashing } from '../../src/auth/password.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { CHEAP_HASHING_CONFIG, CHEAP_HASHING_ENV } from './cheap-hashing.js';
import { createTestDatabase } from './pg-database.js';

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/** A running test server. */
export interface TestServer {
  server: RunningServer;
  config: Config;
  dataDir: string;
  imapPort: number;
  imapsPort: number;
  /** POP3 with STLS, and POP3 over implicit TLS; 0 when disabled by an override. */
  pop3Port: number;
  pop3sPort: number;
  /** LMTP on 127.0.0.1; 0 when disabled by an override. */
  lmtpPort: number;
  /** ManageSieve with STARTTLS; 0 when disabled by an override. */
  managesievePort: number;
  /** Creates an account with a password. */
  addUser(name: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts an in-process server; `overrides` are raw config values (camelCase).
 * With MAILKEEP_TEST_STORE=postgres the server runs on a throwaway PostgreSQL
 * database (helpers/pg-database.ts), dropped by stop().
 */
export async function startTestServer(overrides: Record<string, unknown> = {}, logStream?: NodeJS.WritableStream): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-test-'));
  const db = process.env.MAILKEEP_TEST_STORE === 'postgres' ? await createTestDatabase({ migrated: true }) : null;
  // A port picked by freePort() can be taken again (e.g. as some client's ephemeral port) before we bind: retry.
  const log = (level: string) => (logStream ? pino({ level }, logStream) : pino({ level }));
  for (let attempt = 1; ; attempt++) {
    const config = configSchema.parse({
      ...(db ? { store: { url: db.url } } : {}),
      dataDir,
      host: '127.0.0.1',
      imapPort: await freePort(),
      imapsPort: await freePort(),
      pop3Port: await freePort(),
      pop3sPort: await freePort(),
      lmtpPort: await freePort(),
      managesievePort: await freePort(),
      // Never the standard 80/443: a test that wants the web side picks free ports.
      httpPort: 0,
      httpsPort: 0,
      // Nor the admin listener's 8010: tests that use it pass a free port.
      adminPort: 0,
      ...overrides,
      auth: { ...CHEAP_HASHING_CONFIG.auth, ...(overrides.auth as object | undefined) },
      authThrottle: { ...CHEAP_HASHING_CONFIG.authThrottle, ...(overrides.authThrottle as object | undefined) },
      log: { level: process.env.MAILKEEP_TEST_LOG ?? 'silent', ...(overrides.log as object | undefined) },
    });
    try {
      const server = await startServer(config, log(config.log.level));
      return running(server, config, dataDir, db);
    } catch (err) {
      if ((err as { code?: string }).code === 'EADDRINUSE' && attempt < 5) continue;
      await db?.drop();
      throw err;
    }
  }
}

function running(server: RunningServer, config: Config, dataDir: string, db: { drop(): Promise<void> } | null): TestServer {
  return {
    server,
    config,
    dataDir,
    imapPort: server.ports.imap ?? 0,
    imapsPort: server.ports.imaps ?? 0,
    pop3Port: server.ports.pop3 ?? 0,
    pop3sPort: server.ports.pop3s ?? 0,
    lmtpPort: server.ports.lmtp ?? 0,
    managesievePort: server.ports.managesieve ?? 0,
    async addUser(name, password) {
      await server.store.createAccount(name, await hashPassword(password, passwordHashing(config)));
    },
    async stop() {
      await server.stop();
      await db?.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Spawned servers still running: a test file that ends early (a failed or timed-out test) takes them with it. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/** The child's output kept, the latest part (its log lines). */
const MAX_OUTPUT = 4 << 20;

/** A mailkeep child process (`node bin/mailkeep.js serve ...`). */
export interface ChildServer {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far (JSON log lines). */
  output(): string;
  imapPort: number;
  imapsPort: number;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
}

/**
 * Spawns `mailkeep serve` on a data dir (one process unless `extraArgs` sets `--workers`) and waits until
 * its output shows `ready` (the cluster's primary logs "mailkeep cluster started"); `env`: the child's
 * environment (default: ours), over the cheap hashing of tests (cheap-hashing.ts).
 */
export async function spawnServer(
  dataDir: string,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = process.env,
  ready = 'mailkeep started',
): Promise<ChildServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnOnce(dataDir, extraArgs, { ...CHEAP_HASHING_ENV, ...env }, ready);
    } catch (err) {
      // See startTestServer: a free port can be taken before the child binds it.
      if (!/address already in use/.test((err as Error).message) || attempt >= 5) throw err;
    }
  }
}

async function spawnOnce(dataDir: string, extraArgs: string[], env: NodeJS.ProcessEnv, ready: string): Promise<ChildServer> {
  const imapPort = await freePort();
  const imapsPort = await freePort();
  const bin = join(process.cwd(), 'bin', 'mailkeep.js');
  const child = spawn(
    process.execPath,
    [
      bin,
      'serve',
      '--data-dir',
      dataDir,
      '--host',
      '127.0.0.1',
      '--imap-port',
      String(imapPort),
      '--imaps-port',
      String(imapsPort),
      '--pop3-port',
      '0',
      '--pop3s-port',
      '0',
      '--lmtp-port',
      '0',
      '--managesieve-port',
      '0',
      '--http-port',
      '0',
      '--https-port',
      '0',
      '--admin-port',
      '0',
      // Tests stay light by default: one process, no cluster (a later --workers in extraArgs wins).
      '--workers',
      '1',
      ...extraArgs,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  liveChildren.add(child);
  void exited.then(() => liveChildren.delete(child));
  let output = '';
  const started = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      output = (output + d.toString()).slice(-MAX_OUTPUT);
      if (output.includes(ready)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-MAX_OUTPUT)));
    void exited.then((code) => reject(new Error(`mailkeep exited with ${code}: ${output}`)));
    setTimeout(() => reject(new Error(`mailkeep did not start: ${output}`)), 30000).unref();
  });
  // A server that did not start is not left running (it may hold ports and the data dir).
  await started.catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return { child, imapPort, imapsPort, exited, output: () => output };
}
