/**
 * The check of an uploaded script without holding the event loop: a parse
 * of a script near the 1 MiB limit takes a few hundred milliseconds, so
 * scripts above INLINE_BYTES are parsed in a worker thread
 * (sieve-check-worker.ts), at most MAX_WORKERS at a time per process; the
 * workers stay for the next check (a fresh one parses several times slower,
 * its code not yet optimized). Small scripts, nearly all of them, are parsed
 * inline (a round trip to a worker costs more).
 *
 * Invariant: the queue of waiting checks is bounded by the connections (each
 * runs one command at a time, limits.max-connections).
 */
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import { parseSieve, type SieveError } from '../sieve/index.js';

/** The setting a check needs. */
type CheckSettings = Pick<Config['sieve'], 'maxScriptSize'>;

/** Scripts up to this many bytes parse inline (well under 10 ms). */
const INLINE_BYTES = 64 * 1024;
/** Worker threads checking scripts at once; more checks wait their turn. */
const MAX_WORKERS = 2;

/** The errors of a script, each with its line and column; empty when it may be stored and run. Parses inline. */
function checkScript(text: string, settings: CheckSettings): SieveError[] {
  const parsed = parseSieve(text, { maxScriptBytes: settings.maxScriptSize });
  return parsed.ok ? [] : parsed.errors;
}

let running = 0;
const waiting: (() => void)[] = [];

/** The errors of a script (see checkScript), parsed off the event loop when it is large. */
export async function checkScriptOffLoop(text: string, settings: CheckSettings): Promise<SieveError[]> {
  if (Buffer.byteLength(text, 'utf8') <= INLINE_BYTES) return checkScript(text, settings);
  if (running >= MAX_WORKERS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await inWorker(text, settings.maxScriptSize);
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Workers waiting for the next check; unref'd, so they never keep the process alive. */
const idle: Worker[] = [];

function inWorker(text: string, maxScriptBytes: number): Promise<SieveError[]> {
  const worker = idle.pop() ?? new Worker(new URL('./sieve-check-worker.js', import.meta.url));
  worker.unref();
  return new Promise<SieveError[]>((resolve, reject) => {
    const done = (): void => {
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    const onMessage = (errors: SieveError[]): void => {
      done();
      idle.push(worker);
      resolve(errors);
    };
    const onError = (err: Error): void => {
      done();
      void worker.terminate();
      reject(err);
    };
    const onExit = (code: number): void => {
      done();
      reject(new Error(`the Sieve check worker exited with ${code}`));
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    worker.postMessage({ text, maxScriptBytes });
  });
}
