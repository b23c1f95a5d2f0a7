// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Sieve scripts use ${…} for their own variables.
/**
 * The Sieve runner's behaviour beyond what sieve-test can show: the context
 * questions (vacation memory, duplicate, mailboxes), the null sender,
 * ereject, virustest, editheader's header bytes, limits on actions and
 * redirects, and run-time errors ending in the implicit keep with a position.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSieve, runSieve, type SieveAction, type SieveContext, type SieveLimits, type SieveRunResult } from '../src/sieve/index.js';

const MESSAGE = Buffer.from(
  'Received: from a by b; Mon, 7 Dec 2026 10:00:00 +0000\r\nFrom: Alice <alice@example.com>\r\nTo: me@example.net\r\nSubject: hello\r\nMessage-ID: <m1@example.com>\r\nX-Virus-Scan: 4 (infected)\r\n\r\nbody text\r\n',
);

function ctx(over: Partial<SieveContext> = {}): SieveContext {
  return {
    envelope: { from: 'alice@example.com', to: 'me@example.net' },
    userAddresses: [],
    mailboxExists: () => true,
    duplicateSeen: () => false,
    vacationAlreadySent: () => false,
    zoneMinutes: 0,
    ...over,
  };
}

async function run(script: string, c: SieveContext = ctx(), limits: Partial<SieveLimits> = {}, message = MESSAGE): Promise<SieveRunResult> {
  const p = parseSieve(script, limits);
  if (!p.ok) throw new Error(`compile: ${JSON.stringify(p.errors)}`);
  // a loaded machine must not trip the wall-clock budget unless a test sets it
  return runSieve(p.script, message, c, { maxRunMs: 60_000, ...limits });
}

const types = (r: SieveRunResult): string[] => r.actions.map((a) => a.type);

test('implicit keep is marked implicit; explicit keep is not', async () => {
  assert.deepEqual((await run('')).actions, [{ type: 'keep', implicit: true, flags: [] }]);
  assert.deepEqual((await run('keep;')).actions, [{ type: 'keep', implicit: false, flags: [] }]);
});

test('the null reverse-path compares as the empty string (RFC 5228 §5.4)', async () => {
  const r = await run('require "envelope"; if envelope :all :is "from" "" { discard; }', ctx({ envelope: { from: '', to: 'me@example.net' } }));
  assert.deepEqual(types(r), ['discard']);
});

test('vacation: no reply to the null sender, and the context memory decides repeats', async () => {
  const script = 'require "vacation"; vacation :days 2 :subject "Away" :from "me@example.net" :handle "h1" "I am away";';
  const none = await run(script, ctx({ envelope: { from: '', to: 'me@example.net' } }));
  const v0 = none.actions.find((a) => a.type === 'vacation');
  assert.equal(v0?.type === 'vacation' && v0.respond, false);
  const asked: unknown[] = [];
  const sent = await run(
    script,
    ctx({
      vacationAlreadySent: (...args) => {
        asked.push(args);
        return true;
      },
    }),
  );
  const v = sent.actions.find((a) => a.type === 'vacation') as Extract<SieveAction, { type: 'vacation' }>;
  assert.equal(v.respond, false);
  assert.match(v.skipped ?? '', /within 172800 seconds/);
  assert.deepEqual(asked, [['alice@example.com', 'h1', 172800]]);
  const fresh = await run(script);
  const f = fresh.actions.find((a) => a.type === 'vacation') as Extract<SieveAction, { type: 'vacation' }>;
  assert.deepEqual([f.respond, f.to, f.from, f.subject, f.reason, f.seconds], [true, 'alice@example.com', 'me@example.net', 'Away', 'I am away', 172800]);
});

test('vacation default subject is "Auto: " plus the original (RFC 5230 §4.5)', async () => {
  const r = await run('require "vacation"; vacation "x";');
  const v = r.actions.find((a) => a.type === 'vacation') as Extract<SieveAction, { type: 'vacation' }>;
  assert.equal(v.subject, 'Auto: hello');
});

test('duplicate: seen ids come from the context; tracking is an action', async () => {
  const seen = await run('require "duplicate"; if duplicate { discard; }', ctx({ duplicateSeen: (id) => id === '<m1@example.com>' }));
  assert.deepEqual(types(seen), ['discard']);
  const first = await run('require "duplicate"; if duplicate :seconds 60 { discard; }');
  assert.deepEqual(first.actions[0], { type: 'track-duplicate', id: '<m1@example.com>', handle: '', seconds: 60 });
  const last = await run('require "duplicate"; if duplicate :last { discard; }', ctx({ duplicateSeen: () => true }));
  assert.deepEqual(types(last), ['track-duplicate', 'discard']);
});

test('ereject and reject carry the reason; a second reject is an error', async () => {
  assert.deepEqual((await run('require "ereject"; ereject "no thanks";')).actions, [{ type: 'reject', reason: 'no thanks', extended: true }]);
  const r = await run('require "reject";\nreject "a";\nreject "b";');
  assert.deepEqual(types(r), ['keep']);
  assert.equal(r.errors?.[0]?.line, 3);
  assert.match(r.errors?.[0]?.message ?? '', /more than one reject/);
});

test('virustest reads the configured header (RFC 5235 §3.3)', async () => {
  const script = 'require ["virustest", "relational", "comparator-i;ascii-numeric"]; if virustest :value "ge" :comparator "i;ascii-numeric" "4" { discard; }';
  assert.deepEqual(types(await run(script, ctx({ scores: { virus: { header: 'X-Virus-Scan' } } }))), ['discard']);
  assert.deepEqual(types(await run(script)), ['keep'], 'without the header configuration the message counts as not tested');
});

test('editheader: later actions carry the edited header, untouched fields keep their bytes', async () => {
  const r = await run('require ["editheader", "fileinto"]; fileinto "Before"; addheader "X-Sieve" "Grüße"; deleteheader "subject"; fileinto "After";');
  const before = r.actions[0] as Extract<SieveAction, { type: 'fileinto' }>;
  const after = r.actions[1] as Extract<SieveAction, { type: 'fileinto' }>;
  assert.equal(before.header, undefined);
  const h = after.header?.toString('utf8') ?? '';
  assert.ok(h.startsWith('X-Sieve: =?UTF-8?B?'), h);
  assert.ok(h.includes('Received: from a by b; Mon, 7 Dec 2026 10:00:00 +0000\r\nFrom: Alice <alice@example.com>\r\n'));
  assert.ok(!h.includes('Subject:'));
  assert.ok(h.endsWith('\r\n\r\n'));
});

test('editheader folds long values and splits encoded words (RFC 5322 §2.2.3, RFC 2047 §2)', async () => {
  const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
  const r = await run(
    `require ["editheader"]; addheader "X-Long" "${long}"; addheader "X-Utf" "${'Grüße '.repeat(30)}"; if header :is "x-long" "${long}" { if header :is "x-utf" "${'Grüße '.repeat(30).trim()}" { keep; } }`,
  );
  const keep = r.actions[0] as Extract<SieveAction, { type: 'keep' }>;
  assert.equal(keep.implicit, false, 'both values read back unchanged');
  const lines = (keep.header?.toString('utf8') ?? '').split('\r\n');
  assert.ok(
    lines.every((l) => l.length <= 78),
    lines.find((l) => l.length > 78),
  );
  assert.ok(lines.filter((l) => l.includes('=?UTF-8?B?')).every((l) => l.trim().length <= 75));
});

test(':raw is the body after the blank line; a message may start with it', async () => {
  const r = await run('require "body"; if body :raw :is "only body\r\n" { discard; }', ctx(), {}, Buffer.from('\r\nonly body\r\n'));
  assert.deepEqual(types(r), ['discard']);
  const r2 = await run('require "body"; if body :raw :matches "body text*" { discard; }');
  assert.deepEqual(types(r2), ['discard']);
});

test('fileinto :create and :copy are reported; mailboxexists asks the context', async () => {
  const r = await run(
    'require ["fileinto", "mailbox", "copy"]; if mailboxexists "Archive" { fileinto :copy :create "Archive/2026"; }',
    ctx({ mailboxExists: (n) => n === 'Archive' }),
  );
  assert.deepEqual(r.actions[0], { type: 'fileinto', mailbox: 'Archive/2026', flags: [], copy: true, create: true });
  assert.deepEqual(types(r), ['fileinto', 'keep']);
});

test('limits: actions and redirects', async () => {
  const many = Array.from({ length: 5 }, (_, i) => `fileinto "F${i}";`).join('');
  const r = await run(`require "fileinto"; ${many}`, ctx(), { maxActions: 3 });
  assert.match(r.errors?.[0]?.message ?? '', /more than 3 actions/);
  assert.deepEqual(r.actions, [{ type: 'keep', implicit: true, flags: [] }]);
  const red = await run('redirect "a@x.y"; redirect "b@x.y";', ctx(), { maxRedirects: 1 });
  assert.match(red.errors?.[0]?.message ?? '', /more than 1 redirects/);
});

test('variables are truncated at the size limit and counted', async () => {
  const r = await run('require ["variables", "fileinto"]; set "a" "0123456789"; set "b" "${a}${a}"; fileinto "${b}";', ctx(), { maxVariableSize: 12 });
  assert.equal((r.actions[0] as Extract<SieveAction, { type: 'fileinto' }>).mailbox, '012345678901');
  const many = await run('require "variables"; set "a" "1"; set "b" "2"; set "c" "3";', ctx(), { maxVariables: 2 });
  assert.match(many.errors?.[0]?.message ?? '', /more than 2 variables/);
});

test('include: global variables, :once, return, depth limit and loops', async () => {
  const scripts: Record<string, string> = {
    g: 'require ["include", "variables"]; global "who"; set "who" "global-set";',
    deep: 'require "include"; include "deep2";',
    deep2: 'require "include"; include "deep3";',
    deep3: 'keep;',
    a: 'require "include"; include "b";',
    b: 'require "include"; include "a";',
  };
  const c = ctx({ includeScript: (name) => scripts[name] ?? null });
  const g = await run('require ["include", "variables", "fileinto"]; include "g"; global "who"; fileinto "${who}";', c);
  assert.equal((g.actions[0] as Extract<SieveAction, { type: 'fileinto' }>).mailbox, 'global-set');
  const deep = await run('require "include"; include "deep";', c, { maxIncludeDepth: 2 });
  assert.match(deep.errors?.[0]?.message ?? '', /include nested deeper than 2/);
  const loop = await run('require "include"; include "a";', c);
  assert.match(loop.errors?.[0]?.message ?? '', /include loop/);
  const unsafe = await run('require "include"; include "../../etc/passwd";', c);
  assert.match(unsafe.errors?.[0]?.message ?? '', /unsafe script name/);
});

test('run-time errors name the command position', async () => {
  const r = await run('require ["fileinto", "variables"];\nset "x" "";\n\n  fileinto "${x}";');
  assert.deepEqual(
    r.errors?.map((e) => [e.line, e.column]),
    [[4, 3]],
  );
});

test('match variables: :matches stars are leftmost-shortest (RFC 5229 §3.2)', async () => {
  const msg = Buffer.from('Subject: [acme-users] [fwd] version 1.0 is out\r\n\r\n');
  const r = await run('require ["variables", "fileinto"]; if header :matches "subject" "[*] *" { fileinto "${1}|${2}|${0}"; }', ctx(), {}, msg);
  assert.equal(
    (r.actions[0] as Extract<SieveAction, { type: 'fileinto' }>).mailbox,
    'acme-users|[fwd] version 1.0 is out|[acme-users] [fwd] version 1.0 is out',
  );
});

test('body :text reads HTML as text: tags, comments, head and script dropped, entities decoded', async () => {
  const msg = Buffer.from(
    'Content-Type: text/html\r\n\r\n<html><head><title>secret</title></head><body><!-- hidden --><p>Fish &amp; chips&#33;</p><script>var x = "code";</script></body></html>\r\n',
  );
  const hits = async (key: string): Promise<boolean> =>
    (await run(`require "body"; if body :text :contains "${key}" { discard; }`, ctx(), {}, msg)).actions[0]?.type === 'discard';
  assert.equal(await hits('Fish & chips!'), true);
  for (const hidden of ['secret', 'hidden', 'code', '<p>']) assert.equal(await hits(hidden), false, hidden);
});

test('metadata and servermetadata ask the context and match like header values (RFC 5490 §3.3-§4.2)', async () => {
  const entries: Record<string, string> = { 'INBOX\0/private/vendor/x/auto-replies': 'On', '\0/private/vendor/x/notify': 'mailto:me@example.net' };
  const asked: Array<[string | null, string]> = [];
  const c = ctx({
    metadata: (mailbox, entry) => {
      asked.push([mailbox, entry]);
      return entries[`${mailbox ?? ''}\0${entry}`] ?? null;
    },
  });
  const script = (test: string): string => `require ["mboxmetadata", "servermetadata", "variables", "fileinto"]; if ${test} { fileinto "Hit"; }`;
  const hit = async (test: string): Promise<boolean> => types(await run(script(test), c)).includes('fileinto');
  assert.equal(await hit('metadata "INBOX" "/private/vendor/x/auto-replies" "on"'), true, ':is with i;ascii-casemap by default');
  assert.equal(await hit('metadata :comparator "i;octet" "INBOX" "/private/vendor/x/auto-replies" "on"'), false);
  assert.equal(await hit('metadata :matches "INBOX" "/private/vendor/x/auto-replies" "*"'), true);
  assert.equal(await hit('metadata :matches "Other" "/private/vendor/x/auto-replies" "*"'), false, 'no annotation: false whatever the keys');
  assert.equal(await hit('metadataexists "INBOX" ["/private/vendor/x/auto-replies"]'), true);
  assert.equal(await hit('metadataexists "INBOX" ["/private/vendor/x/auto-replies", "/private/vendor/x/none"]'), false, 'all must exist');
  assert.equal(await hit('servermetadata :contains "/private/vendor/x/notify" "mailto:"'), true);
  assert.equal(await hit('servermetadataexists "/private/vendor/x/notify"'), true);
  assert.equal(await hit('servermetadataexists ["/private/vendor/x/notify", "/shared/comment"]'), false);
  assert.deepEqual(asked.slice(0, 1), [['INBOX', '/private/vendor/x/auto-replies']]);
  // ${1} of a successful :matches, as for any test
  const r = await run(
    'require ["servermetadata", "variables", "fileinto"]; if servermetadata :matches "/private/vendor/x/notify" "mailto:*" { fileinto "${1}"; }',
    c,
  );
  assert.deepEqual(
    r.actions.map((a) => (a.type === 'fileinto' ? a.mailbox : a.type)),
    ['me@example.net'],
  );
  // Without the context's answer there are no annotations.
  assert.equal(types(await run(script('servermetadataexists "/private/vendor/x/notify"'))).includes('fileinto'), false);
  const missing = parseSieve('if metadataexists "INBOX" "/private/x" { keep; }');
  assert.ok(!missing.ok && /mboxmetadata/.test(missing.errors[0]!.message), 'the capability must be required');
});

test('specialuse_exists and fileinto :specialuse (RFC 8579 §3, §4)', async () => {
  const uses: Record<string, string> = { Spam: '\\Junk', 'Sent Items': '\\Sent' };
  const c = ctx({
    specialUseExists: (mailbox, attributes) =>
      attributes.every((a) => Object.entries(uses).some(([name, use]) => (mailbox === null || mailbox === name) && use.toLowerCase() === a.toLowerCase())),
  });
  const filed = async (test: string): Promise<boolean> =>
    types(await run(`require ["special-use", "fileinto"]; if ${test} { fileinto "Hit"; }`, c)).includes('fileinto');
  assert.equal(await filed('specialuse_exists "\\\\Junk"'), true);
  assert.equal(await filed('specialuse_exists ["\\\\Junk", "\\\\Sent"]'), true, 'each on some mailbox');
  assert.equal(await filed('specialuse_exists ["\\\\Junk", "\\\\Trash"]'), false);
  assert.equal(await filed('specialuse_exists "Spam" "\\\\junk"'), true, 'attributes compare case-insensitively');
  assert.equal(await filed('specialuse_exists "Sent Items" "\\\\Junk"'), false);
  assert.equal(await filed('specialuse_exists "Nowhere" "\\\\Junk"'), false);
  const r = await run('require ["special-use", "fileinto", "mailbox"]; fileinto :specialuse "\\\\Junk" :create "Spam";', c);
  assert.deepEqual(r.actions, [{ type: 'fileinto', mailbox: 'Spam', flags: [], copy: false, create: true, specialUse: '\\Junk' }]);
  // A fileinto of the same name without :specialuse is another action: its target may differ.
  const two = await run('require ["special-use", "fileinto", "copy"]; fileinto :copy :specialuse "\\\\Junk" "Spam"; fileinto "Spam";', c);
  assert.deepEqual(types(two), ['fileinto', 'fileinto']);
  for (const bad of [
    'fileinto :specialuse "Junk" "Spam";',
    'if specialuse_exists "\\\\" { keep; }',
    'if specialuse_exists ["\\\\Junk", "\\\\Ju nk"] { keep; }',
  ]) {
    const p = parseSieve(`require ["special-use", "fileinto"]; ${bad}`);
    assert.ok(!p.ok && /invalid special-use attribute/.test(p.errors[0]!.message), bad);
  }
  // Made of variables, an invalid attribute is a run-time error: the implicit keep.
  const late = await run('require ["special-use", "fileinto", "variables"]; set "u" "Junk"; fileinto :specialuse "${u}" "Spam";', c);
  assert.deepEqual(types(late), ['keep']);
  assert.match(late.errors?.[0]?.message ?? '', /invalid special-use attribute 'Junk'/);
});
