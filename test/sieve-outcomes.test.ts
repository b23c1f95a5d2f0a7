// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve scripts use ${…} for their own variables.
/**
 * Test outcomes shared by the runs on one message (sieve/message.ts
 * TestOutcomes): a run that reads a message-pure test's outcome from an
 * earlier run with the same compiled script must end exactly as a run that
 * evaluates everything itself. "Cold" runs get their own copy of the bytes
 * (nothing shared); "hot" runs follow another run of the same script on the
 * same bytes with another envelope, as the recipients of one delivery do.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { type CompiledScript, parseSieve, runSieve, type SieveEnvelope, type SieveLimits, type SieveRunResult, sieveLimits } from '../src/sieve/index.js';
import { SieveMessage } from '../src/sieve/message.js';
import { caseContext, DEFAULT_ENVELOPE, FIXTURES, SIEVE_CASES, type SieveCase } from './helpers/sieve-cases.js';

// a loaded machine must not turn a slow run into a difference
const LIMITS: Partial<SieveLimits> = { maxRunMs: 120_000 };
const OTHER: SieveEnvelope = { from: 'zed@other.example', to: 'you+x@example.org' };
const PLAIN: SieveCase = { name: 'plain', script: '', message: 'sieve/messages/plain.eml' };

function compile(script: string): CompiledScript {
  const p = parseSieve(script);
  if (!p.ok) throw new Error(`compile: ${JSON.stringify(p.errors)}`);
  return p.script;
}

function run(script: CompiledScript, c: SieveCase, bytes: Buffer, envelope: SieveEnvelope, limits = LIMITS): Promise<SieveRunResult> {
  return runSieve(script, bytes, caseContext(c, bytes, envelope), limits);
}

/** The outcomes read instead of evaluated on these bytes so far. */
function hits(bytes: Buffer, limits = LIMITS): number {
  return new SieveMessage(bytes, sieveLimits(limits)).sharedOutcomes()?.hits ?? 0;
}

/** Each envelope's run on its own bytes, and the same runs one after the other on shared bytes; both lists and the hits. */
async function coldAndHot(
  script: CompiledScript,
  c: SieveCase,
  envelopes: readonly SieveEnvelope[],
  limits = LIMITS,
): Promise<{ cold: SieveRunResult[]; hot: SieveRunResult[]; hits: number }> {
  const bytes = fs.readFileSync(path.join(FIXTURES, c.message));
  const cold: SieveRunResult[] = [];
  for (const e of envelopes) cold.push(await run(script, c, Buffer.from(bytes), e, limits));
  const shared = Buffer.from(bytes);
  const hot: SieveRunResult[] = [];
  for (const e of envelopes) hot.push(await run(script, c, shared, e, limits));
  return { cold, hot, hits: hits(shared, limits) };
}

test('every corpus case ends the same with shared outcomes as without', async () => {
  let total = 0;
  let shared = 0;
  for (const c of SIEVE_CASES) {
    const p = parseSieve(c.script);
    if (!p.ok) continue;
    const own = c.envelope ?? DEFAULT_ENVELOPE;
    // the other envelope first, so the case's own run is the one that reads outcomes
    const r = await coldAndHot(p.script, c, [OTHER, own]);
    assert.deepEqual(r.hot, r.cold, c.name);
    total += r.hits;
    if (r.hits > 0) shared++;
  }
  // most cases test the header or body: sharing must actually happen
  assert.ok(shared >= 100, `only ${shared} cases read a shared outcome`);
  assert.ok(total >= 200, `only ${total} outcomes read`);
});

test(':matches groups come with a shared outcome; a failed :matches leaves them (RFC 5229 §3.2)', async () => {
  const script = compile(`require ["fileinto", "variables", "envelope"];
if envelope :matches "to" "*@*" { set "u" "\${1}"; }
if header :matches "subject" "nothing*" { fileinto "never"; }
if header :matches "subject" "h* w*" { fileinto "F/\${1}/\${2}/\${u}"; }
if header :matches "subject" "nothing*" { fileinto "never"; }
fileinto "G/\${1}";`);
  const r = await coldAndHot(script, PLAIN, [OTHER, DEFAULT_ENVELOPE]);
  assert.deepEqual(r.hot, r.cold);
  assert.deepEqual(
    r.hot[1]?.actions.map((a) => (a.type === 'fileinto' ? a.mailbox : a.type)),
    ['F/ello/orld/me', 'G/ello'],
  );
  assert.equal(r.hits, 3);
});

test('a test whose arguments use variables is evaluated by each run', async () => {
  const script = compile(`require ["fileinto", "variables", "envelope"];
if envelope :localpart :matches "to" "*" { set "me" "\${1}"; }
if header :contains "to" "\${me}" { fileinto "Mine"; }
if address :localpart :is "to" "\${me}" { fileinto "Addressed"; }`);
  const r = await coldAndHot(script, PLAIN, [OTHER, DEFAULT_ENVELOPE, { from: '', to: 'bob@example.org' }]);
  assert.deepEqual(r.hot, r.cold);
  assert.deepEqual(
    r.hot.map((x) => x.actions.map((a) => (a.type === 'fileinto' ? a.mailbox : a.type))),
    [['keep'], ['Mine', 'Addressed'], ['Mine', 'Addressed']],
  );
  assert.equal(r.hits, 0);
});

test('after editheader a run neither reads nor writes shared outcomes (RFC 5293)', async () => {
  const script = compile(`require ["fileinto", "envelope", "editheader", "subaddress"];
if envelope :detail "to" "edit" { addheader "X-Mark" "yes"; deleteheader "subject"; }
if header :is "x-mark" "yes" { fileinto "Marked"; }
if exists "subject" { fileinto "Subject"; }
if header :is "x-priority" "2" { fileinto "Priority"; }`);
  const edit = { from: 'a@example.com', to: 'me+edit@example.net' };
  const folders = (x: SieveRunResult): string[] => x.actions.map((a) => (a.type === 'fileinto' ? a.mailbox : a.type));
  // unedited first (its outcomes shared), then edited (must not read them), then unedited again (must not see the edited one's)
  const r = await coldAndHot(script, PLAIN, [DEFAULT_ENVELOPE, edit, DEFAULT_ENVELOPE]);
  assert.deepEqual(r.hot, r.cold);
  assert.deepEqual(r.hot.map(folders), [
    ['Subject', 'Priority'],
    ['Marked', 'Priority'],
    ['Subject', 'Priority'],
  ]);
  // only the third run reads: its three tests
  assert.equal(r.hits, 3);
  const first = await coldAndHot(script, PLAIN, [edit, DEFAULT_ENVELOPE]);
  assert.deepEqual(first.hot, first.cold);
  assert.deepEqual(first.hot.map(folders), [
    ['Marked', 'Priority'],
    ['Subject', 'Priority'],
  ]);
  assert.equal(first.hits, 0);
});

test('a shared outcome charges the steps evaluating cost: the step budget ends runs at the same place', async () => {
  const rules = Array.from({ length: 40 }, (_, i) => `if header :contains ["subject", "to", "cc", "x-tag"] ["z${i}", "y${i}", "x${i}"] { keep; }`);
  const script = compile(rules.join('\n'));
  const limits = { ...LIMITS, maxSteps: 400 };
  const r = await coldAndHot(script, PLAIN, [OTHER, DEFAULT_ENVELOPE], limits);
  assert.deepEqual(r.hot, r.cold);
  assert.match(r.hot[1]?.errors?.[0]?.message ?? '', /more than 400 steps/);
  assert.ok(r.hits > 0);
});

test('date shares an outcome only when its zone does not come from the context (RFC 5260 §4)', async () => {
  const script = compile(`require ["date", "fileinto", "relational"];
if date :value "ge" "date" "hour" "10" { fileinto "Late"; }
if date :originalzone :is "date" "hour" "11" { fileinto "Orig"; }
if date :zone "+0000" :is "date" "hour" "09" { fileinto "Utc"; }`);
  const bytes = fs.readFileSync(path.join(FIXTURES, PLAIN.message));
  const folders = (x: SieveRunResult): string[] => x.actions.map((a) => (a.type === 'fileinto' ? a.mailbox : a.type));
  const shared = Buffer.from(bytes);
  const utc = await runSieve(script, shared, { ...caseContext(PLAIN, shared), zoneMinutes: 0 }, LIMITS);
  const east = await runSieve(script, shared, { ...caseContext(PLAIN, shared), zoneMinutes: 120 }, LIMITS);
  assert.deepEqual(folders(utc), ['Orig', 'Utc']);
  assert.deepEqual(folders(east), ['Late', 'Orig', 'Utc']);
  assert.equal(hits(shared), 2);
});
