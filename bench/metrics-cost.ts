/**
 * What the metrics cost one command: the recorders the hot path calls
 * (metrics/metrics.ts), timed over many calls in a tight loop, in ns per
 * call. A command's own cost is tens of µs (bench/README.md), so these are
 * the numbers to compare it with.
 *
 *   node dist/bench/metrics-cost.js [calls]
 */
import { commandRecorder, countLogin, timeCommit, trafficOf } from '../src/metrics/metrics.js';
import { COMMANDS } from '../src/imap/commands/registry.js';
import { intOption } from './cli-options.js';

const calls = process.argv[2] ? intOption('calls', process.argv[2], 1000, 100_000_000) : 2_000_000;
const imap = commandRecorder('imap', COMMANDS.keys());
const traffic = trafficOf('imap');

/** ns per call of `fn`, the best of 5 rounds (the least disturbed by other work on the machine). */
function nsPerCall(fn: (i: number) => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / calls);
  }
  return best;
}

const rows: Array<[string, number]> = [
  ['command: result counter + latency histogram (commandRecorder(…).record)', nsPerCall((i) => imap.record(i & 1 ? 'NOOP' : 'FETCH', 'OK', performance.now()))],
  ['unknown command (label "other")', nsPerCall(() => imap.record('XBOGUS', 'BAD', performance.now()))],
  ['login outcome (countLogin)', nsPerCall(() => countLogin('imap', 'password', 'succeeded'))],
  ['store commit (timeCommit)', nsPerCall(() => timeCommit('sqlite', performance.now()))],
  ['bytes (Transport adds to the totals)', nsPerCall((i) => (traffic.in += i & 0xff))],
];
for (const [what, ns] of rows) process.stdout.write(`${ns.toFixed(1).padStart(8)} ns  ${what}\n`);
