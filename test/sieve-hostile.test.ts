// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve scripts use ${…} for their own variables.
/**
 * Hostile and random input to the Sieve layer: random text and bytes into
 * the parser (fast-check) never crash it and always end quickly with either
 * a script or positioned errors; random messages into a many-rule script
 * never crash the runner; deep nesting, huge string lists, variable
 * doubling, regex and wildcard bombs, include loops, step and time budgets
 * all end within the limits with a clear error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseSieve, runSieve, type SieveContext, type SieveLimits, type SieveRunResult } from '../src/sieve/index.js';

const ctx = (over: Partial<SieveContext> = {}): SieveContext => ({
  envelope: { from: 'a@example.com', to: 'me@example.net' },
  userAddresses: [],
  mailboxExists: () => true,
  duplicateSeen: () => false,
  vacationAlreadySent: () => false,
  zoneMinutes: 0,
  ...over,
});

const MESSAGE = Buffer.from(`From: a@example.com\r\nTo: me@example.net\r\nSubject: ${'a'.repeat(60_000)}\r\n\r\n${'a'.repeat(60_000)}\r\n`);

async function run(script: string, limits: Partial<SieveLimits> = {}, message = MESSAGE, c = ctx()): Promise<SieveRunResult> {
  const p = parseSieve(script, limits);
  if (!p.ok) throw new Error(`compile: ${JSON.stringify(p.errors)}`);
  // a loaded machine must not trip the wall-clock budget unless a test sets it
  return runSieve(p.script, message, c, { maxRunMs: 60_000, ...limits });
}

function assertParseResult(script: string): void {
  const r = parseSieve(script);
  if (!r.ok) {
    assert.ok(r.errors.length > 0);
    for (const e of r.errors) assert.ok(e.line >= 1 && e.column >= 1 && typeof e.message === 'string' && e.message.length > 0, JSON.stringify(e));
  }
}

// pieces of real Sieve so random scripts get past the first token often
const TOKENS = [
  'require',
  '"fileinto"',
  '["variables", "regex"]',
  'if',
  'elsif',
  'else',
  'header',
  'address',
  ':is',
  ':matches',
  ':regex',
  ':contains',
  ':comparator',
  '"i;octet"',
  '"subject"',
  '"*"',
  '"${1}"',
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ',',
  ';',
  'keep',
  'fileinto',
  'redirect',
  'anyof',
  'allof',
  'not',
  'true',
  'false',
  'text:\n',
  '\n.\n',
  '#',
  '/*',
  '*/',
  '"',
  '\\',
  '10K',
  ':over',
  'size',
  'set',
  'string',
  ' ',
  '\n',
];

test('random text into the parser: a result, never a throw', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), assertParseResult), { numRuns: 3000 });
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }), (parts) => assertParseResult(parts.join(' '))),
    { numRuns: 3000 },
  );
});

test('random bytes into the parser (as UTF-8 and Latin-1)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      assertParseResult(Buffer.from(bytes).toString('utf8'));
      assertParseResult(Buffer.from(bytes).toString('latin1'));
    }),
    { numRuns: 3000 },
  );
});

test('random token scripts that compile also run, on random messages', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }), fc.uint8Array({ maxLength: 2000 }), async (parts, bytes) => {
      const p = parseSieve(parts.join(' '));
      if (!p.ok) return;
      const r = await runSieve(p.script, Buffer.from(bytes), ctx());
      assert.ok(r.actions.length > 0 || r.errors === undefined);
    }),
    { numRuns: 500 },
  );
});

const RULES = `require ["fileinto", "imap4flags", "variables", "relational", "comparator-i;ascii-numeric", "body", "subaddress", "regex", "date", "editheader", "index"];
if header :regex "subject" "^(re|fwd?): .*$" { addflag "reply"; }
if address :detail :is "to" "lists" { fileinto "Lists"; }
if header :matches "from" "*@*.*" { set "dom" "\${2}"; }
if body :text :contains "unsubscribe" { addflag "bulk"; }
if date :value "lt" :originalzone "date" "year" "2000" { addflag "old"; }
if header :index 2 :contains "received" "example" { deleteheader "x-spam"; }
if header :count "gt" :comparator "i;ascii-numeric" "received" "10" { fileinto "Loops"; }
addheader "X-Filtered" "\${dom}";
`;

test('random messages into a many-rule script: actions, never a throw', async () => {
  const p = parseSieve(RULES);
  assert.equal(p.ok, true);
  if (!p.ok) return;
  const header = fc.constantFrom('From', 'To', 'Subject', 'Date', 'Received', 'Content-Type', 'Content-Transfer-Encoding', 'X-Spam');
  const line = fc.tuple(header, fc.string({ unit: 'binary', maxLength: 120 })).map(([h, v]) => `${h}: ${v}\r\n`);
  await fc.assert(
    fc.asyncProperty(fc.array(line, { maxLength: 30 }), fc.uint8Array({ maxLength: 3000 }), async (lines, body) => {
      const msg = Buffer.concat([Buffer.from(lines.join(''), 'utf8'), Buffer.from('\r\n'), Buffer.from(body)]);
      const r = await runSieve(p.script, msg, ctx());
      assert.ok(r.actions.length > 0);
    }),
    { numRuns: 400 },
  );
});

test('deep nesting ends with a clear error, no stack overflow', () => {
  for (const script of [
    'if true {'.repeat(100_000),
    `if ${'not '.repeat(100_000)}true { keep; }`,
    `if ${'anyof('.repeat(50_000)}true${')'.repeat(50_000)} { keep; }`,
    `redirect ${'['.repeat(100_000)}`,
  ]) {
    const t0 = performance.now();
    const r = parseSieve(script);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.errors[0]?.message ?? '', /nesting deeper than 32|expected a string in the string list/);
    assert.ok(performance.now() - t0 < 10_000);
  }
});

test('size and list limits refuse oversized scripts', () => {
  const big = parseSieve(`keep; #${'x'.repeat(2 * 1024 * 1024)}`);
  assert.equal(big.ok, false);
  if (!big.ok) assert.match(big.errors[0]?.message ?? '', /script larger than/);
  const list = parseSieve(`if header :is "subject" [${Array.from({ length: 5000 }, () => '"a"').join(',')}] { keep; }`);
  assert.equal(list.ok, false);
  if (!list.ok) assert.match(list.errors[0]?.message ?? '', /string list longer than 1024/);
});

test('variable doubling is truncated at maxVariableSize; memory stays bounded', async () => {
  const doubling = Array.from({ length: 40 }, () => 'set "a" "${a}${a}${a}${a}";').join('\n');
  const before = process.memoryUsage().heapUsed;
  const r = await run(`require ["variables", "fileinto"];\nset "a" "xxxxxxxxxxxxxxxx";\n${doubling}\nset :length "n" "\${a}";\nfileinto "\${n}";`);
  assert.equal(r.errors, undefined);
  assert.equal((r.actions[0] as { mailbox: string }).mailbox, '4096');
  assert.ok(process.memoryUsage().heapUsed - before < 100 * 1024 * 1024);
});

test('regex bombs run in linear time', async () => {
  for (const re of ['(a*)*b', '(a|aa)+c$', '(x+x+)+y', '^(.*)(.*)(.*)(.*)(.*)b$', '(a|a?)+b']) {
    const t0 = performance.now();
    const r = await run(`require ["regex", "body"];\nif header :regex "subject" "${re}" { discard; }\nif body :text :regex "${re}" { discard; }`);
    assert.equal(r.errors, undefined, re);
    assert.deepEqual(
      r.actions.map((a) => a.type),
      ['keep'],
    );
    assert.ok(performance.now() - t0 < 20_000, `${re} took ${performance.now() - t0} ms`);
  }
});

test('patterns the linear engine cannot run are refused when the script is checked', () => {
  const r = parseSieve('require "regex";\nif header :regex "subject" "a{1,999}a{1,999}b" { discard; }');
  assert.equal(r.ok, false);
  if (!r.ok) assert.deepEqual([r.errors[0]?.line, /linear time/.test(r.errors[0]?.message ?? '')], [2, true]);
});

test('wildcard bombs run in O(pattern × subject)', async () => {
  const t0 = performance.now();
  const r = await run(`if header :matches "subject" "${'*a'.repeat(200)}b" { discard; }`);
  assert.deepEqual(
    r.actions.map((a) => a.type),
    ['keep'],
  );
  assert.ok(performance.now() - t0 < 30_000, `took ${performance.now() - t0} ms`);
});

test('the step budget ends a long script with a clear error and the implicit keep', async () => {
  const tests = Array.from({ length: 3000 }, () => 'if header :contains "to" "nobody" { keep; }').join('\n');
  const r = await run(tests, { maxSteps: 1000 }, Buffer.from('To: me@example.net\r\n\r\n'));
  assert.match(r.errors?.[0]?.message ?? '', /more than 1000 steps/);
  assert.deepEqual(r.actions, [{ type: 'keep', implicit: true, flags: [] }]);
});

test('the time budget ends a slow run', async () => {
  // 5,000 scans of a 64 KiB body take far longer than 5 ms on any machine (the body text is decoded once and shared).
  const tests = Array.from({ length: 5000 }, (_, i) => `if body :text :contains "needle${i}" { keep; }`).join('\n');
  const big = Buffer.from(`Subject: slow\r\n\r\n${'haystack '.repeat(7282)}\r\n`);
  const r = await run(`require "body";\n${tests}`, { maxRunMs: 5, maxSteps: 1e9 }, big);
  assert.match(r.errors?.[0]?.message ?? '', /ran longer than 5 ms/);
});

test('include loops and runaway includes end with an error', async () => {
  const c = ctx({
    includeScript: (name) => (name === 'self' ? 'require "include"; include "self";' : `require "include"; include "n${Number(name.slice(1)) + 1}";`),
  });
  const loop = await run('require "include"; include "self";', {}, MESSAGE, c);
  assert.match(loop.errors?.[0]?.message ?? '', /include loop/);
  const chain = await run('require "include"; include "n0";', {}, MESSAGE, c);
  assert.match(chain.errors?.[0]?.message ?? '', /include nested deeper than 10/);
});

test('HTML to text stays linear on hostile markup', async () => {
  const html = `From: a@example.com\r\nContent-Type: text/html\r\n\r\n${'<title><!--<script><p '.repeat(40_000)}needle`;
  const t0 = performance.now();
  const r = await run('require "body"; if body :text :contains "needle" { discard; }', {}, Buffer.from(html));
  assert.deepEqual(
    r.actions.map((a) => a.type),
    ['keep'],
    'an unclosed <title> runs to the end',
  );
  assert.ok(performance.now() - t0 < 20_000);
});

test('addheader cannot grow the header past maxHeaderFields', async () => {
  const adds = Array.from({ length: 50 }, (_, i) => `addheader "X-N${i}" "\${v}";`).join('\n');
  const r = await run(
    `require ["editheader", "variables"];\nset "v" "${'y'.repeat(4000)}";\n${adds}`,
    { maxHeaderFields: 20 },
    Buffer.from('From: a@example.com\r\n\r\nbody\r\n'),
  );
  assert.match(r.errors?.[0]?.message ?? '', /already has 20 fields/);
  assert.deepEqual(r.actions, [{ type: 'keep', implicit: true, flags: [] }]);
});
