/**
 * CPU placement for one-round-trip rows. On a 2-core machine a ~0.1 ms
 * command costs ~40 µs more when the scheduler puts the server on the
 * client's core than when it puts it on the other one, for mailkeep and
 * Dovecot alike; which it picks varies by connection and by server. Pinning
 * both (util-linux `taskset`, every thread) measures each placement on its own.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

/** Where the benchmark client and the server under test run. */
export type Placement = 'apart' | 'together';

let pinnable: boolean | undefined;

/** True when the machine has two CPUs or more and `taskset` works here (asked once). */
export function canPin(): boolean {
  pinnable ??= os.cpus().length >= 2 && spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
  return pinnable;
}

function setAffinity(pids: readonly number[], cpus: string): void {
  for (const pid of pids) {
    // A process that exited meanwhile is fine; anything else is not.
    const r = spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { encoding: 'utf8' });
    if (r.status !== 0 && !/No such process/i.test(r.stderr)) throw new Error(`taskset ${pid}: ${r.stderr.trim()}`);
  }
}

/**
 * Runs `fn` with this process (the client) on CPU 0 and the server's
 * processes on CPU 1 ('apart') or on CPU 0 too ('together'), then lets
 * every process run anywhere again.
 */
export async function withPlacement<T>(serverPids: readonly number[], placement: Placement, fn: () => Promise<T>): Promise<T> {
  const all = `0-${os.cpus().length - 1}`;
  setAffinity([process.pid], '0');
  setAffinity(serverPids, placement === 'apart' ? '1' : '0');
  try {
    return await fn();
  } finally {
    setAffinity([process.pid, ...serverPids], all);
  }
}
