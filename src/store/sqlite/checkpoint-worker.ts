/**
 * The body of the WAL checkpoint thread (wal-checkpointer.ts): its own
 * connection to the database file, a PASSIVE checkpoint every interval —
 * copying committed WAL frames into the database file and fsyncing it, the
 * work SQLite would otherwise do inside the COMMIT that crosses the
 * autocheckpoint threshold, on the event loop. PASSIVE never waits for a lock
 * (SQLite's wal_checkpoint_v2), so the thread never stalls a writer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CheckpointReport, CheckpointWorkerData } from './wal-checkpointer.js';

const { path, intervalMs } = workerData as CheckpointWorkerData;
const port = parentPort;
if (!port) throw new Error('checkpoint-worker.js runs only as a worker thread');

const db = new Database(path);
// This connection never writes rows: it must not run checkpoints of its own besides the explicit one.
db.pragma('wal_autocheckpoint = 0');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

const timer = setInterval(() => {
  const started = performance.now();
  try {
    const row = checkpoint.get() as { busy: number; log: number; checkpointed: number };
    const report: CheckpointReport = { ms: performance.now() - started, walFrames: row.log, checkpointed: row.checkpointed };
    port.postMessage(report);
  } catch (err) {
    port.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}, intervalMs);

port.on('message', (msg: unknown) => {
  if (msg !== 'stop') return;
  clearInterval(timer);
  db.close();
  port.close();
});
