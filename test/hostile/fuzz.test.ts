/**
 * The fuzzing harness on CI's budget (issue 18, "Must show"): a fixed seed,
 * random, mutated and grammar-based inputs into every IMAP state, POP3 and
 * LMTP against a `mailkeep serve` child process, for about 40 seconds. The
 * run fails on a crash, an unhandled rejection or exception in the log, a
 * response line that breaks the grammar, a [SERVERBUG]/451 4.3.0 answer, a
 * control session's NOOP unanswered for 10 s, or RSS over 512 MB.
 * The long local mode: `node dist/bench/fuzz.js --inputs 1000000` (bench/fuzz.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frameInput } from '../fuzz/imap-target.js';
import { chunkDebtBound } from '../fuzz/lmtp-target.js';
import { checkImapLine, checkPop3Status, checkSmtpLine } from '../fuzz/response-check.js';
import { defaultTargets, formatReport, replayInput, runFuzz } from '../fuzz/runner.js';

const SEED = 18;
const BUDGET_MS = 35_000;

test('the response checkers accept what the grammar allows and reject what it does not', () => {
  const ok = (s: string): Buffer => Buffer.from(s, 'utf8');
  for (const line of [
    '* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN] ready',
    '* 3 FETCH (UID 7 FLAGS (\\Seen $Forwarded) INTERNALDATE " 7-Dec-2026 12:00:00 +0000" BODY[HEADER.FIELDS (SUBJECT)]<0> {5}\r\nab\r\nc)',
    '* LIST (\\HasNoChildren) "/" "Caf\u00e9"',
    '* STATUS INBOX (MESSAGES 2 UIDNEXT 3)',
    '+ Ready for literal data',
    't1 NO [TRYCREATE] Mailbox does not exist',
    '* OK [PERMANENTFLAGS (\\Seen \\*)] Limited',
    '* ESEARCH (TAG "t1") UID COUNT 0',
    '* 1 FETCH (ENVELOPE (NIL NIL ((NIL NIL "a" "b")(NIL NIL "c" "d")) NIL NIL NIL NIL NIL NIL NIL))',
    '* 2 FETCH (BODY (("text" "plain" NIL NIL NIL "7bit" 5 1)("text" "html" NIL NIL NIL "7bit" 5 1) "mixed"))',
    '* LIST (\\HasNoChildren) "/" ]p',
    '* QUOTAROOT fz/a[b',
    '* 7 UIDFETCH (FLAGS (\\Seen) MODSEQ (3))',
    // A header-fld-name is an astring, and an atom may hold "]" (a field name may, RFC 5322 §3.6.8).
    '* 1 FETCH (UID 5 BODY[HEADER.FIELDS.NOT (SUBJE]CT)] {2}\r\n\r\n)',
    '* 1 FETCH (BODY[HEADER.FIELDS ("a)]" B)] NIL)',
  ])
    assert.equal(checkImapLine(ok(line)), null, line);
  for (const line of [
    'a\\b BAD tag with a backslash',
    '* OK [PARSE unclosed',
    '* 1 FETCH (BODY[] {9}\r\nab)',
    '* 1 FETCH (BODY[HEADER.FIELDS (A) {1}\r\nx)',
    '* 1 FETCH (INTERNALDATE "01-Jan-0 23:59:00 +0000")',
    '* LIST () "/" "a\0b"',
    '* NOSUCH response',
    't1 OK text with \xff',
    '* SEARCH 1  2',
    '+',
  ])
    assert.notEqual(checkImapLine(Buffer.from(line, 'latin1')), null, line);
  assert.equal(checkPop3Status(ok('+OK 2 320')), null);
  assert.notEqual(checkPop3Status(ok('OK')), null);
  assert.equal(checkSmtpLine(ok('250 2.1.5 Recipient OK')), null);
  assert.notEqual(checkSmtpLine(ok('550 5.1.1 <\u00e9@x> User unknown')), null);
});

test('the IMAP adapter owes the literal an input announces just before the CRLF it adds', () => {
  const cut = frameInput(Buffer.from('t1 LOGIN F{3+}'));
  assert.equal(cut.sent.toString('latin1'), 't1 LOGIN F{3+}\r\n');
  assert.deepEqual([cut.debt, cut.midLine, cut.syncPoints], [3, false, []]);
  const sync = frameInput(Buffer.from('t2 SELECT {2}'));
  assert.deepEqual([sync.debt, sync.syncPoints], [2, [15]]);
  assert.equal(frameInput(Buffer.from('t3 NOOP')).debt, 0);
});

test('the LMTP adapter adds up the chunk sizes an input announces (it fills them at once, up to its flush size)', () => {
  assert.equal(chunkDebtBound(Buffer.from('RCPT TO:<a@b>\r\nBDAT 2157\r\n')), 2157);
  assert.equal(chunkDebtBound(Buffer.from('BDAT 16\r\ntext \xc3\xa9\r\ntext \xc3\xa9BDAT 30 LAST\r\n', 'latin1')), 46);
  assert.equal(chunkDebtBound(Buffer.from('BDAT 99999999999\r\nBDAT 1\r\n')), 100000000000);
  assert.equal(chunkDebtBound(Buffer.from('DATA\r\nSubject: x\r\n.\r\n')), 0);
});

test('inputs are named by seed, protocol, state and number alone', () => {
  const a = replayInput(SEED, 'imap/selected/42');
  const b = replayInput(SEED, 'imap/selected/42');
  assert.deepEqual(a, b);
  assert.notDeepEqual(replayInput(SEED, 'imap/selected/43').bytes, a.bytes);
});

test('fuzz on a fixed budget: no crash, no grammar violation, control NOOP answers, RSS bounded', { timeout: 120_000 }, async (t) => {
  const report = await runFuzz({ seed: SEED, inputs: 1_000_000, maxMs: BUDGET_MS, parallel: 14, outDir: null, maxRssBytes: 512 * 1024 * 1024 });
  const text = formatReport(report);
  t.diagnostic(`fuzz: ${report.inputs} inputs in ${(report.elapsedMs / 1000).toFixed(1)} s`);
  for (const line of text.split('\n')) t.diagnostic(line);
  assert.deepEqual(report.failures, [], text);
  const states = defaultTargets().flatMap((target) => target.states.map((s) => `${target.protocol}/${s}`));
  for (const s of states) assert.ok((report.perState[s]?.inputs ?? 0) > 0, `no input ran in ${s}\n${text}`);
  assert.ok(report.maxRss > 0 && report.maxRss < 512 * 1024 * 1024, text);
});
