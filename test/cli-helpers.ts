/** Runs the built `mailkeep` binary as a child process, isolated from the caller's MAILKEEP_* environment. */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CHEAP_HASHING_ENV } from './helpers/cheap-hashing.js';

/** bin/mailkeep.js, from dist/test/ where the compiled tests run. */
export const BIN = fileURLToPath(new URL('../../bin/mailkeep.js', import.meta.url));

/** The current environment without MAILKEEP_* variables, plus the cheap hashing of tests, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MAILKEEP_')) env[k] = v;
  return { ...env, ...CHEAP_HASHING_ENV, ...extra };
}

/** The outcome of one CLI run. */
export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `mailkeep ...args` to completion with `input` on stdin. */
export function mailkeep(args: string[], input = '', env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', env: cleanEnv(env), timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `mailkeep ...args` in the background (stdin closed). */
export function startMailkeep(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Runs `mailkeep ...args` on a test server's store (its data directory, and
 * its PostgreSQL URL when it has one) with `input` on stdin, asynchronously:
 * a server in the caller's process keeps answering meanwhile.
 */
export function mailkeepOn(srv: { dataDir: string; config: { store: { url: string | null } } }, args: string[], input = ''): Promise<CliResult> {
  const store = srv.config.store.url ? ['--store', srv.config.store.url] : [];
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args, '--data-dir', srv.dataDir, ...store], { env: cleanEnv(), timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input);
  });
}
