/**
 * The server under fuzz: a real `mailkeep serve` child process on loopback
 * ports with a throwaway data directory, watched for exit, for error-level
 * log lines (an unhandled rejection or exception is logged, then the process
 * dies or limps) and for its resident memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_HASHING, hashPassword, type PasswordHashing } from '../../src/auth/password.js';
import { configSchema } from '../../src/config/schema.js';
import { openStore } from '../../src/store/open.js';
import { freePort } from '../helpers/server.js';

/** USER_HZ, the unit of /proc/PID/stat times: 100 on Linux for every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** The fuzz accounts' scrypt cost, the lowest the server accepts. */
const HASH_COST = 10;
/** scrypt at that cost: the cheapest hash the server makes (argon2id's floor costs more). */
const HASHING: PasswordHashing = { ...DEFAULT_HASHING, algorithm: 'scrypt', scryptCost: HASH_COST };

/**
 * The fuzz server's configuration: passwords over plain loopback, no
 * failed-login throttle (fuzzed LOGINs fail by the thousand), and the cheapest
 * password hash (1 MiB scrypt instead of 32 MiB): at the default cost the
 * logins of replaced sessions and fuzzed LOGINs took most of the CPU a run had.
 */
const CONFIG_TOML = `
[plaintext-auth]
allow-insecure = true

[auth]
password-hash = "scrypt"

[auth-throttle]
password-hash-cost = ${HASH_COST}
free-failures = 1000
base-delay-ms = 0
max-failures-per-ip = 1000000000
max-failures-per-account = 1000000000
`;

export interface ServerUnderFuzz {
  pid: number;
  imapPort: number;
  pop3Port: number;
  lmtpPort: number;
  dataDir: string;
  /** Set when the process exited before stop(). */
  exit: string | null;
  /** Error-level (and worse) log messages with their counts, and the first full line of each. */
  logErrors: Map<string, { count: number; first: string }>;
  /** Output that is not a JSON log line (a crash's stack trace), last 64 KB. */
  rawOutput(): string;
  /** Resident set size in bytes (Linux /proc), or 0 when unknown. */
  rss(): number;
  /** CPU time the process has used (all its threads: scrypt and file I/O run on the pool), in ms (Linux /proc), or 0 when unknown. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** Creates the accounts (password → names), then starts the server. */
export async function startServerUnderFuzz(accounts: ReadonlyArray<{ name: string; password: string }>): Promise<ServerUnderFuzz> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mailkeep-fuzz-'));
  const store = await openStore({ dataDir, defaultMailboxes: configSchema.parse({}).mailboxes.defaults });
  try {
    for (const a of accounts) await store.createAccount(a.name, await hashPassword(a.password, HASHING));
  } finally {
    await store.close();
  }
  const configFile = join(dataDir, 'fuzz.toml');
  await writeFile(configFile, CONFIG_TOML);
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnServer(dataDir, configFile);
    } catch (e) {
      if (attempt >= 5) {
        await rm(dataDir, { recursive: true, force: true });
        throw e;
      }
    }
  }
}

async function spawnServer(dataDir: string, configFile: string): Promise<ServerUnderFuzz> {
  const [imapPort, pop3Port, lmtpPort] = [await freePort(), await freePort(), await freePort()];
  const bin = join(process.cwd(), 'bin', 'mailkeep.js');
  const args = ['serve', '--config', configFile, '--data-dir', dataDir, '--host', '127.0.0.1'];
  args.push(
    '--imap-port',
    String(imapPort),
    '--imaps-port',
    '0',
    '--pop3-port',
    String(pop3Port),
    '--pop3s-port',
    '0',
    '--http-port',
    '0',
    '--https-port',
    '0',
    '--admin-port',
    '0',
    '--managesieve-port',
    '0',
    '--lmtp-port',
    String(lmtpPort),
    '--log-level',
    process.env.MAILKEEP_FUZZ_LOG_LEVEL ?? 'warn',
  );
  const child: ChildProcess = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logErrors = new Map<string, { count: number; first: string }>();
  let raw = '';
  let exit: string | null = null;
  let stopping = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      if (!stopping) exit = `exited with ${signal ?? code}`;
      resolve();
    }),
  );
  const onLines = (() => {
    let partial = '';
    return (d: Buffer): void => {
      const lines = (partial + d.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        let entry: { level?: number; msg?: string } | null = null;
        try {
          entry = JSON.parse(line) as { level?: number; msg?: string };
        } catch {
          raw = `${raw}${line}\n`.slice(-65536);
        }
        // pino levels: 50 error, 60 fatal.
        if (entry && (entry.level ?? 0) >= 50) {
          const key = entry.msg ?? '(no msg)';
          const seen = logErrors.get(key);
          if (seen) seen.count++;
          else logErrors.set(key, { count: 1, first: line.slice(0, 4000) });
        }
      }
    };
  })();
  child.stdout!.on('data', onLines);
  child.stderr!.on('data', onLines);
  // For a closer look at a run: MAILKEEP_FUZZ_LOG_LEVEL=info MAILKEEP_FUZZ_LOG_FILE=/tmp/fuzz.log
  const logFile = process.env.MAILKEEP_FUZZ_LOG_FILE;
  if (logFile) {
    const out = createWriteStream(logFile);
    child.stdout!.pipe(out);
  }
  const server: ServerUnderFuzz = {
    pid: child.pid ?? 0,
    imapPort,
    pop3Port,
    lmtpPort,
    dataDir,
    get exit() {
      return exit;
    },
    logErrors,
    rawOutput: () => raw,
    rss: () => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m ? Number(m[1]) * 1024 : 0;
      } catch {
        return 0;
      }
    },
    cpuMs: () => {
      try {
        // Fields 14 and 15 of /proc/PID/stat (utime, stime) in clock ticks, counted after the ")" that ends the command name.
        const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
      } catch {
        return 0;
      }
    },
    async stop() {
      stopping = exit === null;
      if (exit === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await waitListening(
      [imapPort, pop3Port, lmtpPort],
      () => exit,
      () => raw,
    );
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}

/** Waits until every port accepts connections (the server logs nothing at warn level when it starts). */
async function waitListening(ports: number[], exit: () => string | null, raw: () => string): Promise<void> {
  const deadline = Date.now() + 30000;
  for (const port of ports) {
    for (;;) {
      if (exit()) throw new Error(`mailkeep ${exit()}: ${raw()}`);
      if (Date.now() > deadline) throw new Error(`mailkeep did not listen on ${port}: ${raw()}`);
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      });
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
