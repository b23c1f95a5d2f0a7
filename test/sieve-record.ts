/**
 * Re-records Pigeonhole's answers for the differential corpus:
 *   npx tsc -p tsconfig.json && node dist/test/sieve-record.js
 * (needs sieve-test from Debian's dovecot-sieve, run as root). Writes
 * test/fixtures/sieve/pigeonhole.json, which test/sieve-differential.test.ts reads.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, SIEVE_CASES } from './helpers/sieve-cases.js';
import { pigeonholeAvailable, runPigeonhole } from './helpers/sieve-pigeonhole.js';

if (!pigeonholeAvailable()) {
  console.error('sieve-test not found: install dovecot-sieve');
  process.exit(1);
}
const results: Record<string, string[]> = {};
for (const c of SIEVE_CASES) results[c.name] = runPigeonhole(c);
const file = path.join(FIXTURES, 'sieve', 'pigeonhole.json');
fs.writeFileSync(file, `${JSON.stringify(results, null, 1)}\n`);
console.log(`recorded ${SIEVE_CASES.length} cases in ${file}`);
