/**
 * What the workload needs from a server under test, whichever it is.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Memory } from './proc.js';

/** A running server on 127.0.0.1 with one account. */
export interface BenchServer {
  /** Short name used in the table ("mailkeep", "dovecot"). */
  name: string;
  version: string;
  port: number;
  user: string;
  password: string;
  /** Memory of the server's whole process tree now. */
  memory(): Memory;
  /** The server's process tree now (for CPU pinning). */
  pids(): number[];
  /** CPU time the server's process tree has used so far, in nanoseconds. */
  cpuNs(): number;
  /** Runs a full garbage collection in the server, where the runtime has one, before a memory reading. */
  collectGarbage?(): Promise<void>;
  /** The last lines of the server's log, for error messages. */
  logTail(): string;
  /** Stops the process we started and removes its temp dir (unless kept). */
  stop(): Promise<void>;
}

/** Settings both servers are started with. */
export interface ServerOptions {
  /** Connections the server must accept at once (the IDLE row plus a few). */
  maxConnections: number;
  /** Keep the data directory after stopping (for inspection). */
  keep: boolean;
}

/** A fresh temp dir for one server, world-readable so unprivileged helpers can enter it. */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** The last `n` lines of a file, or '' if it cannot be read. */
export function tailFile(file: string, n = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}
