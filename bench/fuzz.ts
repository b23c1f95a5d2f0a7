/**
 * The fuzzer's long local mode (test/fuzz/runner.ts): a real mailkeep child
 * process, random and grammar-based inputs into every IMAP state, POP3 and
 * LMTP, over parallel loopback connections.
 *
 *   node dist/bench/fuzz.js --inputs 1000000 [--seed N] [--minutes M] [--parallel P] [--out DIR]
 *   node dist/bench/fuzz.js --seed N --replay imap/selected/123   (prints one input's bytes)
 *
 * Exits 1 when it found a failure; reproducers (input and response bytes)
 * are written to --out (default ./fuzz-findings).
 */
import { parseArgs } from 'node:util';
import { formatReport, replayInput, runFuzz } from '../test/fuzz/runner.js';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    minutes: { type: 'string', default: '60' },
    parallel: { type: 'string', default: '12' },
    out: { type: 'string', default: 'fuzz-findings' },
    'max-rss-mb': { type: 'string', default: '512' },
    replay: { type: 'string' },
  },
});

const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
if (values.replay) {
  const input = replayInput(seed, values.replay);
  process.stdout.write(`${values.replay} (${input.kind}, ${input.bytes.length} octets): ${JSON.stringify(input.bytes.toString('latin1'))}\n`);
} else {
  // Ctrl-C stops the inputs; the server is stopped and the report printed as usual.
  const abort = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => abort.abort());
  const report = await runFuzz({
    signal: abort.signal,
    seed,
    inputs: Number(values.inputs),
    maxMs: Number(values.minutes) * 60_000,
    parallel: Number(values.parallel),
    outDir: values.out ?? null,
    maxRssBytes: Number(values['max-rss-mb']) * 1048576,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${formatReport(report)}\n`);
  process.exitCode = report.failures.length > 0 ? 1 : 0;
}
