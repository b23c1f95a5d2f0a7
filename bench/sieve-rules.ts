// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve scripts use ${…} for their own variables.
/**
 * Cost of running a 50-rule Sieve script per delivered message, beside the
 * MIME analysis every delivery does anyway (issue 24: delivery with a
 * 50-rule script within 20 % of delivery without one).
 *
 *   node dist/bench/sieve-rules.js [--messages 2000] [--runs 5]
 *
 * Prints, per run, the median and p99 time of analyzeMessage and of
 * runSieve (with the part tree handed over, as delivery would) and the ratio
 * of the two medians; the last line is the median over the runs.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { analyzeMessage } from '../src/mime/index.js';
import { parseSieve, runSieve, type SieveContext } from '../src/sieve/index.js';
import { intOption } from './cli-options.js';
import { generateMessage } from './messages.js';
import { fiftyRules } from './fifty-rules.js';
import { median, percentile } from './stats.js';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '2000' }, runs: { type: 'string', default: '5' } } });
const count = intOption('messages', values.messages, 1, 100_000);
const runs = intOption('runs', values.runs, 1, 50);
const parsed = parseSieve(fiftyRules());
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
const messages = Array.from({ length: count }, (_, i) => generateMessage(i).bytes);
const base: Omit<SieveContext, 'parts'> = {
  envelope: { from: 'someone@example.com', to: 'me+tag3@example.net' },
  userAddresses: ['me@example.net'],
  mailboxExists: () => true,
  duplicateSeen: () => false,
  vacationAlreadySent: () => false,
};
const ratios: number[] = [];
for (let r = 0; r < runs; r++) {
  const analyze: number[] = [];
  const sieve: number[] = [];
  for (const m of messages) {
    const t0 = performance.now();
    const parts = analyzeMessage(m).root;
    const t1 = performance.now();
    const result = await runSieve(parsed.script, m, { ...base, parts });
    const t2 = performance.now();
    if (result.errors !== undefined) throw new Error(JSON.stringify(result.errors));
    analyze.push(t1 - t0);
    sieve.push(t2 - t1);
  }
  const a = percentile(analyze, 50);
  const s = percentile(sieve, 50);
  ratios.push(s / a);
  console.log(
    `run ${r + 1}: analyze p50 ${a.toFixed(3)} ms p99 ${percentile(analyze, 99).toFixed(3)} ms; sieve p50 ${s.toFixed(3)} ms p99 ${percentile(sieve, 99).toFixed(3)} ms; sieve/analyze ${(s / a).toFixed(2)}`,
  );
}
console.log(`median sieve/analyze over ${runs} runs: ${median(ratios).toFixed(2)}`);
