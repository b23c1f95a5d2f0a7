/**
 * Network namespaces for tests that need real network failures (refused,
 * dropped, reset, unreachable) without touching the host: a fresh namespace
 * with only loopback up, nftables rules inside it, and processes run in it
 * with `ip netns exec`. Needs root, `ip` and `nft`; `netnsUnavailable()` says
 * why a test must skip. Only namespaces created here are deleted.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

/** Why namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root for ip netns and nft (CI runs as root)';
  for (const [tool, flag] of [
    ['ip', '-V'],
    ['nft', '-v'],
  ] as const) {
    try {
      execFileSync(tool, [flag], { stdio: 'ignore' });
    } catch {
      return `needs ${tool} (apt-get install ${tool === 'ip' ? 'iproute2' : 'nftables'})`;
    }
  }
  return null;
}

/** A namespace this process created. */
export interface Namespace {
  name: string;
  /** Loads an nftables ruleset (nft -f syntax) inside the namespace. */
  nft(rules: string): void;
  /** Starts `command args…` inside the namespace. */
  spawn(command: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  /** Runs `command args…` inside the namespace to completion, with `input` on stdin. */
  run(command: string, args: string[], input?: string, env?: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }>;
  /** Deletes the namespace (its processes should be stopped first). */
  remove(): void;
}

/** Creates a uniquely named namespace with loopback up. */
export function createNamespace(label: string): Namespace {
  const name = `mk-${label}-${process.pid}-${Date.now() % 100000}`;
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return {
    name,
    nft(rules) {
      execFileSync('ip', ['netns', 'exec', name, 'nft', '-f', '-'], { input: rules });
    },
    spawn(command, args, env = process.env) {
      return spawn('ip', ['netns', 'exec', name, command, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    },
    run(command, args, input = '', env = process.env) {
      const child = spawn('ip', ['netns', 'exec', name, command, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdin.end(input);
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      return new Promise((resolve) =>
        child.on('close', (status) => {
          clearTimeout(timer);
          resolve({ status, stdout, stderr });
        }),
      );
    },
    remove() {
      execFileSync('ip', ['netns', 'del', name]);
    },
  };
}
