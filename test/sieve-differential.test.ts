/**
 * Differential test against Pigeonhole (the reference Sieve implementation):
 * every case of helpers/sieve-cases.ts runs in mailkeep's runner and its
 * normalized actions (folders, flags, redirects, rejects, vacation
 * decisions, duplicate tracking, compile-error lines, run-time errors) must
 * equal what sieve-test recorded in fixtures/sieve/pigeonhole.json
 * (re-record with `node dist/test/sieve-record.js`). With sieve-test
 * installed, a sample of LIVE_SAMPLE cases also runs live (every case with
 * MAILKEEP_SIEVE_LIVE=1), so a recording gone stale shows.
 * Cases that differ on purpose are listed in DIFFERENT with the rule that
 * justifies mailkeep's answer; the test checks they still differ, so the
 * list cannot go stale.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parseSieve, runSieve } from '../src/sieve/index.js';
import { caseContext, FIXTURES, SIEVE_CASES, type SieveCase } from './helpers/sieve-cases.js';
import { normalizeActions } from './helpers/sieve-normalize.js';
import { pigeonholeAvailable, runPigeonhole } from './helpers/sieve-pigeonhole.js';

const recorded = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'sieve', 'pigeonhole.json'), 'utf8')) as Record<string, string[]>;

/** Cases where mailkeep answers differently on purpose, with the justification. */
const DIFFERENT: Record<string, string> = {
  // sieve-test resolves includes when it compiles; mailkeep asks the store when the script runs
  'include missing is an error':
    'RFC 6609 §3.2: "Sieve implementations MUST generate an error at execution time if an included script does not exist ... MUST NOT generate errors for scripts missing at upload time". Both end in the implicit keep; mailkeep reports it as a run-time error.',
  'include loop is an error':
    'RFC 6609 §3.2: "Sieve implementations MUST generate an error at execution time if an included script is a recursive inclusion. Implementations MUST NOT generate errors for recursive includes at upload time".',
  'vacation :days 100 is lowered to the maximum':
    "RFC 5230 §4.1: \"Sites MAY also define a maximum days value, which MUST be greater than 7, and SHOULD be greater than 30 ... If ':days' exceeds the site-defined maximum, the site-defined maximum is used instead.\" mailkeep's default maximum is 60 days (SieveContext.vacationPeriod), Pigeonhole's 100.",
  // Pigeonhole does not open an encapsulated message whose type is written in capitals
  'body transforms on cpython/msg_16.txt':
    'RFC 2045 §5.1: "The type, subtype, and parameter names are not case sensitive." "MESSAGE/RFC822" is message/rfc822, so RFC 5173 §5.2 searches the nested header ("Subject" is in it); sieve-test finds it only when the type is written in lower case.',
  'body transforms on flanker/torture-part.eml': 'As cpython/msg_16.txt: a "MESSAGE/RFC822" part is message/rfc822 (RFC 2045 §5.1).',
  // sieve-test is a tool run after delivery and says "post"
  'environment phase':
    'RFC 5183 §4: "phase" is "pre", "during" or "post" final delivery; mailkeep runs Sieve while LMTP (or `mailkeep deliver`) delivers, before the message is stored: "during".',
};

/** Runs one case in mailkeep: compile errors as "compile-error line=N", else the normalized actions. */
async function ours(c: SieveCase): Promise<string[]> {
  const parsed = parseSieve(c.script);
  if (!parsed.ok) return [`compile-error line=${parsed.errors[0]?.line}`];
  const message = fs.readFileSync(path.join(FIXTURES, c.message));
  // the run-time budget is tested in sieve-hostile; here a loaded machine must not turn a slow run into a difference
  const result = await runSieve(parsed.script, message, caseContext(c, message), { maxRunMs: 120_000 });
  const errors = (result.errors ?? []).map((e) => `(line ${e.line}: ${e.message})`);
  return [...normalizeActions(result), ...errors];
}

test('the corpus has at least 100 cases and every case is recorded', () => {
  assert.ok(SIEVE_CASES.length >= 100);
  assert.equal(new Set(SIEVE_CASES.map((c) => c.name)).size, SIEVE_CASES.length, 'case names are unique');
  for (const c of SIEVE_CASES) assert.ok(recorded[c.name] !== undefined, `no recorded result for "${c.name}": run node dist/test/sieve-record.js`);
});

test('mailkeep gives the same actions as Pigeonhole (recorded)', async () => {
  const mismatches: string[] = [];
  for (const c of SIEVE_CASES) {
    const want = recorded[c.name] as string[];
    const got = await ours(c);
    const same = JSON.stringify(got.filter((a) => !a.startsWith('(line '))) === JSON.stringify(want);
    if (c.name in DIFFERENT) {
      if (same) mismatches.push(`"${c.name}" is listed as different but now agrees: remove it from DIFFERENT`);
    } else if (!same) mismatches.push(`"${c.name}" (${c.message}):\n  pigeonhole ${JSON.stringify(want)}\n  mailkeep   ${JSON.stringify(got)}`);
  }
  assert.deepEqual(mismatches, []);
});

/** Cases run live by default: spread over the corpus (the whole corpus takes minutes of sieve-test). */
const LIVE_SAMPLE = 12;

test('the recording still matches a live sieve-test', { skip: !pigeonholeAvailable() && 'sieve-test is not installed' }, () => {
  const step = process.env.MAILKEEP_SIEVE_LIVE === '1' ? 1 : Math.ceil(SIEVE_CASES.length / LIVE_SAMPLE);
  for (const c of SIEVE_CASES.filter((_, i) => i % step === 0)) assert.deepEqual(runPigeonhole(c), recorded[c.name], c.name);
});
