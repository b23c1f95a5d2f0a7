/** Protocol traces must never carry credentials or message contents (src/log.ts redactTrace). */
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createLogger, newTraceState, redactTrace, sessionLogger, type TraceState } from '../src/log.js';

type Step = ['C' | 'S', string];

/** Feeds a transcript through one trace state, each piece whole; returns the redacted pieces. */
function run(steps: Step[], protocol: 'imap' | 'pop3' = 'imap'): string[] {
  const st = newTraceState(protocol);
  return steps.map(([dir, text]) => redactTrace(text, st, dir === 'C' ? 'client' : 'server'));
}

/** Feeds a transcript with every piece cut at the given offsets; returns the whole redacted output. */
function runSplit(steps: Step[], cuts: number[], protocol: 'imap' | 'pop3' = 'imap'): string {
  const st: TraceState = newTraceState(protocol);
  let out = '';
  for (const [dir, text] of steps) {
    const buf = Buffer.from(text);
    const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
    let prev = 0;
    for (const p of [...points, buf.length]) {
      if (p <= prev) continue;
      out += redactTrace(buf.subarray(prev, p), st, dir === 'C' ? 'client' : 'server');
      prev = p;
    }
  }
  return out;
}

describe('redactTrace: IMAP', () => {
  it('hides the LOGIN password, atom or quoted, and keeps the user name', () => {
    assert.deepEqual(run([['C', 'a1 LOGIN alice hunter2\r\n']]), ['a1 LOGIN alice ***\r\n']);
    assert.deepEqual(run([['C', 'a1 login "al ice" "hun \\"ter2"\r\n']]), ['a1 login "al ice" ***\r\n']);
    assert.deepEqual(run([['C', 'a1 LOGIN alice\r\n']]), ['a1 LOGIN alice\r\n']);
  });

  it('hides LOGIN passwords sent as literals, and their length', () => {
    const out = run([
      ['C', 'a LOGIN {5}\r\n'],
      ['S', '+ Ready\r\n'],
      ['C', 'alice {7}\r\n'],
      ['S', '+ Ready\r\n'],
      ['C', 'hunter2\r\n'],
      ['S', 'a OK Logged in\r\n'],
      ['C', 'b SELECT INBOX\r\n'],
    ]);
    assert.deepEqual(out, ['a LOGIN {5}\r\n', '+ Ready\r\n', '{5 bytes}***\r\n', '+ Ready\r\n', '\r\n', 'a OK Logged in\r\n', 'b SELECT INBOX\r\n']);
    const quotedUser = run([['C', 'a LOGIN "bob" {6+}\r\nsecret\r\nb NOOP\r\n']]);
    assert.deepEqual(quotedUser, ['a LOGIN "bob" ***\r\n\r\nb NOOP\r\n']);
  });

  it('hides the SASL initial response and every continuation line until the tagged answer', () => {
    const out = run([
      ['C', 'a AUTHENTICATE PLAIN AGFsaWNlAGh1bnRlcjI=\r\n'],
      ['S', 'a OK done\r\n'],
      ['C', 'b AUTHENTICATE PLAIN\r\n'],
      ['S', '+ \r\n'],
      ['C', 'AGFsaWNlAGh1bnRlcjI=\r\n'],
      ['S', 'b NO [AUTHENTICATIONFAILED] no\r\n'],
      ['C', 'c AUTHENTICATE PLAIN\r\n'],
      ['S', '+\r\n'],
      ['C', '*\r\n'],
      ['S', 'c BAD cancelled\r\n'],
      ['C', 'd CAPABILITY\r\n'],
    ]);
    assert.deepEqual(out, [
      'a AUTHENTICATE PLAIN ***\r\n',
      'a OK done\r\n',
      'b AUTHENTICATE PLAIN\r\n',
      '+ \r\n',
      '***\r\n',
      'b NO [AUTHENTICATIONFAILED] no\r\n',
      'c AUTHENTICATE PLAIN\r\n',
      '+\r\n',
      '*\r\n',
      'c BAD cancelled\r\n',
      'd CAPABILITY\r\n',
    ]);
  });

  it('does not end a SASL exchange on the answer to an earlier pipelined command', () => {
    const out = run([
      ['C', 'a NOOP\r\nb AUTHENTICATE PLAIN\r\n'],
      ['S', 'a OK NOOP done\r\n+ \r\n'],
      ['C', 'AGFsaWNlAGh1bnRlcjI=\r\n'],
    ]);
    assert.equal(out[2], '***\r\n');
  });

  it('replaces literal contents with their size, in both directions', () => {
    const msg = 'From: a@example.org\r\nSubject: private\r\n\r\nbody text\r\n';
    const n = Buffer.byteLength(msg);
    const out = run([
      ['C', `a APPEND INBOX (\\Seen) {${n}+}\r\n${msg}\r\nb FETCH 1 BODY[]\r\n`],
      ['S', `* 1 FETCH (BODY[] {${n}}\r\n${msg})\r\nb OK done\r\n`],
    ]);
    assert.deepEqual(out, [
      `a APPEND INBOX (\\Seen) {${n}+}\r\n{${n} bytes}\r\nb FETCH 1 BODY[]\r\n`,
      `* 1 FETCH (BODY[] {${n}}\r\n{${n} bytes})\r\nb OK done\r\n`,
    ]);
  });

  it('counts literal sizes in octets, not characters', () => {
    const text = 'Grüße ✓';
    const n = Buffer.byteLength(text);
    const out = run([['C', `a SEARCH CHARSET UTF-8 TEXT {${n}+}\r\n${text}\r\nb NOOP\r\n`]]);
    assert.deepEqual(out, [`a SEARCH CHARSET UTF-8 TEXT {${n}+}\r\n{${n} bytes}\r\nb NOOP\r\n`]);
  });

  it('forgets a synchronizing literal the server refused, but not one it accepted', () => {
    const refused = run([
      ['C', 'a APPEND INBOX {99999999}\r\n'],
      ['S', 'a NO [TOOBIG] too big\r\n'],
      ['C', 'b NOOP\r\n'],
    ]);
    assert.equal(refused[2], 'b NOOP\r\n');
    const pipelinedAnswer = run([
      ['C', 'a NOOP\r\nb APPEND INBOX {5}\r\n'],
      ['S', 'a OK done\r\n+ go\r\n'],
      ['C', 'hello\r\n'],
    ]);
    assert.equal(pipelinedAnswer[2], '{5 bytes}\r\n');
  });

  it('shows only complete lines, whatever the read boundaries', () => {
    const st = newTraceState();
    assert.equal(redactTrace('a1 LOG', st), '');
    assert.equal(redactTrace('IN alice hun', st), '');
    assert.equal(redactTrace('ter2\r\nb1 NO', st), 'a1 LOGIN alice ***\r\n');
    assert.equal(redactTrace('OP\r\n', st), 'b1 NOOP\r\n');
  });

  it('elides the middle of overlong lines and keeps memory bounded', () => {
    const st = newTraceState();
    const long = `a SEARCH ${'X'.repeat(100_000)} {3}\r\n`;
    let out = '';
    for (let i = 0; i < long.length; i += 1000) out += redactTrace(long.slice(i, i + 1000), st);
    out += redactTrace('abc\r\nb NOOP\r\n', st);
    assert.ok(out.length < 3000, `trace is ${out.length} characters`);
    assert.match(out, /^a SEARCH X+\[… \d+ bytes …\]X* \{3\}\r\n\{3 bytes\}\r\nb NOOP\r\n$/);
    assert.ok(st.client.head.length === 0 && st.client.tail.length === 0);
  });

  it('never reveals a password, whatever the read boundaries (property)', () => {
    const secret = 'Sup3rS3cr3t';
    const b64 = Buffer.from(`\0alice\0${secret}`).toString('base64');
    const transcripts: Step[][] = [
      [['C', `a LOGIN alice ${secret}\r\nb NOOP\r\n`]],
      [['C', `a LOGIN "alice" "${secret}"\r\n`]],
      [['C', `a LOGIN {5+}\r\nalice {${secret.length}+}\r\n${secret}\r\n`]],
      [
        ['C', `a LOGIN alice {${secret.length}}\r\n`],
        ['S', '+ go\r\n'],
        ['C', `${secret}\r\n`],
      ],
      [['C', `a AUTHENTICATE PLAIN ${b64}\r\n`]],
      [
        ['C', 'a AUTHENTICATE PLAIN\r\n'],
        ['S', '+ \r\n'],
        ['C', `${b64}\r\n`],
        ['S', 'a OK\r\n'],
      ],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...transcripts), fc.array(fc.nat(200), { maxLength: 6 }), (steps, cuts) => {
        const out = runSplit(steps, cuts);
        return !out.includes(secret) && !out.includes(b64) && !out.includes('Sup3r');
      }),
      { numRuns: 500 },
    );
  });
});

describe('redactTrace: POP3', () => {
  it('hides PASS, APOP digests and AUTH payloads', () => {
    const out = run(
      [
        ['S', '+OK ready\r\n'],
        ['C', 'USER alice\r\n'],
        ['S', '+OK\r\n'],
        ['C', 'PASS hunter2 with spaces\r\n'],
        ['S', '-ERR no\r\n'],
        ['C', 'APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n'],
        ['S', '-ERR no\r\n'],
        ['C', 'AUTH PLAIN\r\n'],
        ['S', '+ \r\n'],
        ['C', 'AGFsaWNlAGh1bnRlcjI=\r\n'],
        ['S', '+OK welcome\r\n'],
        ['C', 'STAT\r\n'],
      ],
      'pop3',
    );
    assert.deepEqual(out, [
      '+OK ready\r\n',
      'USER alice\r\n',
      '+OK\r\n',
      'PASS ***\r\n',
      '-ERR no\r\n',
      'APOP alice ***\r\n',
      '-ERR no\r\n',
      'AUTH PLAIN\r\n',
      '+ \r\n',
      '***\r\n',
      '+OK welcome\r\n',
      'STAT\r\n',
    ]);
  });

  it('replaces RETR and TOP message contents with their size, also when pipelined', () => {
    const out = run(
      [
        ['C', 'LIST\r\nRETR 1\r\n'],
        ['S', '+OK 1 messages\r\n1 30\r\n.\r\n+OK 30 octets\r\nSubject: hi\r\n\r\n+OK not a status\r\n..dot\r\n.\r\n'],
        ['C', 'NOOP\r\n'],
        ['S', '+OK\r\n'],
      ],
      'pop3',
    );
    assert.deepEqual(out, ['LIST\r\nRETR 1\r\n', '+OK 1 messages\r\n1 30\r\n.\r\n+OK 30 octets\r\n{40 bytes}\r\n.\r\n', 'NOOP\r\n', '+OK\r\n']);
  });

  it('counts the octets of overlong message lines exactly', () => {
    const line = `${'é'.repeat(5000)}\r\n`;
    const out = run(
      [
        ['C', 'TOP 1 5\r\n'],
        ['S', `+OK\r\n${line}${line}.\r\n`],
      ],
      'pop3',
    );
    assert.equal(out[1], `+OK\r\n{${2 * Buffer.byteLength(line)} bytes}\r\n.\r\n`);
  });
});

describe('createLogger', () => {
  it('writes JSON lines at the configured level, with session ids and censored password fields', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(
          ...chunk
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        );
        cb();
      },
    });
    const log = createLogger({ log: { level: 'info', trace: false } }, sink);
    log.debug('hidden');
    const s = sessionLogger(log, 'S1', { remote: '192.0.2.1' });
    s.info({ password: 'hunter2', user: { name: 'a', password: 'x' } }, 'login');
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(rec.session, 'S1');
    assert.equal(rec.remote, '192.0.2.1');
    assert.equal(rec.msg, 'login');
    assert.equal(rec.password, '[redacted]');
    assert.deepEqual(rec.user, { name: 'a', password: '[redacted]' });
    assert.ok(!lines[0]!.includes('hunter2'));
  });
});
