/**
 * Process helpers for the benchmark: free loopback ports, spawning a server
 * with a raised open-files limit, the memory of a server's process tree, and
 * stopping exactly the process we started.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** A free TCP port on 127.0.0.1 (released again before returning). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls until 127.0.0.1:port accepts, the child exits, or the timeout passes. */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited during startup`);
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Spawns `cmd args` through sh with `ulimit -n` raised to at least `nofile`
 * (Node has no setrlimit); `exec` keeps the PID the one we hold.
 */
export function spawnWithNofile(cmd: string, args: string[], nofile: number, options: SpawnOptions): ChildProcess {
  const script = `ulimit -Hn ${nofile} 2>/dev/null; ulimit -n ${nofile} 2>/dev/null; exec "$@"`;
  return spawn('sh', ['-c', script, 'sh', cmd, ...args], options);
}

/** Stops a child we started: SIGTERM, then SIGKILL after `graceMs`; only its own PID is signalled. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** `pid` and all its descendants, from /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid …": comm may contain spaces and parentheses
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * CPU time (user and system) that each of `pid` and its descendants has
 * used, all its threads summed, in nanoseconds (/proc/…/task/…/schedstat,
 * which counts exactly where utime ticks count in 10 ms steps).
 */
export function perProcessCpuNs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of processTree(pid)) {
    let tasks: string[];
    try {
      tasks = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // exited meanwhile
    }
    let total = 0;
    for (const t of tasks) {
      try {
        total += Number(fs.readFileSync(`/proc/${p}/task/${t}/schedstat`, 'latin1').split(' ')[0]);
      } catch {
        // the thread exited meanwhile
      }
    }
    out.set(p, total);
  }
  return out;
}

/** CPU time that `pid`, its descendants and all their threads have used, in nanoseconds (perProcessCpuNs summed). */
export function treeCpuNs(pid: number): number {
  let total = 0;
  for (const ns of perProcessCpuNs(pid).values()) total += ns;
  return total;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/**
 * CPU time of the children a process tree has already reaped (cutime +
 * cstime of each live member), in nanoseconds: what treeCpuNs cannot see of
 * short-lived processes, such as Dovecot's per-connection login and imap
 * processes. Resolution: 10 ms.
 */
export function treeReapedCpuNs(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'latin1');
      // Fields after "pid (comm) ": state is field 3, cutime 16 and cstime 17.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[13]) + Number(fields[14]);
    } catch {
      // exited meanwhile: its parent's counts have it now or soon
    }
  }
  return (ticks * 1e9) / USER_HZ;
}

/**
 * CPU time of a server's whole process tree so far, in nanoseconds: its live
 * processes and threads (treeCpuNs) plus the children its members have
 * reaped (treeReapedCpuNs), so a per-connection process that ends during a
 * measured window (Dovecot's imap-login) is still counted, by its parent.
 * Differences of two readings are what a window cost; a process that lived
 * across the start is counted whole once reaped (its time before the start too).
 */
export function serverTreeCpuNs(pid: number): number {
  return treeCpuNs(pid) + treeReapedCpuNs(pid);
}

/** The whole machine's CPU time from /proc/stat, in nanoseconds: busy (not idle, not iowait) and in all. */
export function machineCpuNs(): { busy: number; total: number } {
  const fields = fs.readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // user nice system idle iowait irq softirq steal
  const idle = fields[3]! + fields[4]!;
  return { busy: ((total - idle) * 1e9) / USER_HZ, total: (total * 1e9) / USER_HZ };
}

/** Starts counting CPU time from `readNs` (e.g. treeCpuNs); the result reads the milliseconds since. */
export function cpuStopwatch(readNs: () => number): () => number {
  const start = readNs();
  return () => (readNs() - start) / 1e6;
}

/** Resident and proportional set size of a process tree, in bytes. */
export interface Memory {
  rss: number;
  /** PSS splits shared pages among their sharers: the fair sum for many processes. */
  pss: number;
  processes: number;
}

/** Memory of `pid` and its descendants (from /proc/<pid>/smaps_rollup). */
export function treeMemory(pid: number): Memory {
  const total: Memory = { rss: 0, pss: 0, processes: 0 };
  for (const p of processTree(pid)) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${p}/smaps_rollup`, 'latin1');
    } catch {
      continue;
    }
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    total.rss += kb('Rss');
    total.pss += kb('Pss');
    total.processes++;
  }
  return total;
}

/**
 * Raises a /proc/sys integer setting to at least `min` and returns a function
 * that restores the old value (or null when no change was needed or allowed).
 */
export function raiseSysctl(file: string, min: number): (() => void) | null {
  let old: number;
  try {
    old = Number(fs.readFileSync(file, 'latin1').trim());
    if (old >= min) return null;
    fs.writeFileSync(file, String(min));
  } catch {
    return null;
  }
  return () => fs.writeFileSync(file, String(old));
}
