// test:pg skip — what the protocol trace hides of the wire
/**
 * Protocol traces never carry a password, a SASL payload or message contents,
 * over real IMAP, POP3 and ManageSieve sessions: the protocols tell the trace what each
 * token is (net/trace.ts), from their own framers and writers. Ordinary
 * commands are traced verbatim, message data as its size.
 */
import { strict as assert } from 'node:assert';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger, sessionLogger } from '../src/log.js';
import { TraceText } from '../src/net/trace.js';
import { literal, SieveClient } from './helpers/managesieve-client.js';
import { deliver, Pop3Client } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const USER = 'tracy';
const SECRET = 'Sup3r-S3cret';
const BODY = 'private-body-text';
/** A SASL PLAIN response carrying the secret (RFC 4616). */
const SASL = Buffer.from(`\0${USER}\0${SECRET}`).toString('base64');

interface Entry {
  session: string;
  trace: 'C' | 'S';
  data: string;
}

let srv: TestServer;
const entries: Entry[] = [];
const raw: string[] = [];

before(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const text = chunk.toString();
      raw.push(text);
      for (const line of text.split('\n')) {
        if (line.includes('"msg":"trace"')) entries.push(JSON.parse(line) as Entry);
      }
      done();
    },
  });
  srv = await startTestServer({ log: { level: 'info', trace: true } }, sink);
  await srv.addUser(USER, SECRET);
});
after(async () => {
  await srv.stop();
  // The whole log of every test: nothing secret, no message body, anywhere.
  const log = raw.join('');
  assert.doesNotMatch(log, new RegExp(`${SECRET}|${SASL}|${BODY}|Sup3r`, 'i'));
});

/** The trace entries logged since `from`, as "C: data" / "S: data". */
function since(from: number): string[] {
  return entries.slice(from).map((e) => `${e.trace}: ${e.data}`);
}

/** Waits (bounded) until the trace holds an entry matching `re`, since `from`. */
async function traced(from: number, re: RegExp): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const got = since(from);
    if (got.some((e) => re.test(e))) return got;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`no trace entry matching ${re}:\n${since(from).join('\n')}`);
}

function noSecrets(lines: string[]): void {
  const text = lines.join('\n');
  assert.doesNotMatch(text, new RegExp(`${SECRET}|${SASL}|${BODY}|Sup3r`, 'i'), text);
}

describe('IMAP trace from the framed tokens', () => {
  it('LOGIN: the user name shown, the password hidden (atom, quoted, literal {n} and {n+})', async () => {
    const from = entries.length;
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    assert.match((await client.command('a', `LOGIN ${USER} ${SECRET}`)).tagged, /^a OK/);
    client.close();
    const c2 = (await RawClient.connect(srv.imapsPort, { tls: true })).client;
    assert.match((await c2.command('b', `LOGIN "${USER}" "${SECRET}"`)).tagged, /^b OK/);
    c2.close();
    // Synchronizing literals for both arguments (RFC 9051 §4.3).
    const c3 = (await RawClient.connect(srv.imapsPort, { tls: true })).client;
    c3.send(`c LOGIN {${USER.length}}\r\n`);
    assert.match(await c3.readLine(), /^\+ /);
    c3.send(`${USER} {${SECRET.length}}\r\n`);
    assert.match(await c3.readLine(), /^\+ /);
    c3.send(`${SECRET}\r\n`);
    assert.match((await c3.readTagged('c')).tagged, /^c OK/);
    c3.close();
    // A non-synchronizing literal password (RFC 7888).
    const c4 = (await RawClient.connect(srv.imapsPort, { tls: true })).client;
    assert.match((await c4.command('d', `LOGIN ${USER} {${SECRET.length}+}\r\n${SECRET}`)).tagged, /^d OK/);
    c4.close();
    const got = await traced(from, /^C: d LOGIN/);
    assert.ok(got.includes(`C: a LOGIN ${USER} ***\r\n`), got.join('\n'));
    assert.ok(got.includes(`C: b LOGIN "${USER}" ***\r\n`), got.join('\n'));
    assert.ok(got.includes(`C: c LOGIN {${USER.length}}\r\n${USER} ***\r\n`), got.join('\n'));
    assert.ok(got.includes(`C: d LOGIN ${USER} ***\r\n`), got.join('\n'));
    assert.ok(got.some((e) => /^S: \+ Ready for literal data/.test(e)));
    noSecrets(got);
  });

  it('AUTHENTICATE PLAIN: the initial response and every continuation line hidden, "*" shown', async () => {
    const from = entries.length;
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    // RFC 4959 SASL-IR, with a wrong password so the session stays unauthenticated.
    const wrong = Buffer.from(`\0${USER}\0${SECRET}x`).toString('base64');
    assert.match((await client.command('a', `AUTHENTICATE PLAIN ${wrong}`)).tagged, /^a NO/);
    // Continuation: the response on a line of its own (RFC 9051 §6.2.2).
    client.send('b AUTHENTICATE PLAIN\r\n');
    assert.match(await client.readLine(), /^\+/);
    client.send(`${wrong}\r\n`);
    assert.match((await client.readTagged('b')).tagged, /^b NO/);
    // "*" cancels.
    client.send('c AUTHENTICATE PLAIN\r\n');
    assert.match(await client.readLine(), /^\+/);
    client.send('*\r\n');
    assert.match((await client.readTagged('c')).tagged, /^c BAD/);
    client.send('d AUTHENTICATE PLAIN\r\n');
    assert.match(await client.readLine(), /^\+/);
    client.send(`${SASL}\r\n`);
    assert.match((await client.readTagged('d')).tagged, /^d OK/);
    assert.match((await client.command('e', 'NOOP')).tagged, /^e OK/);
    client.close();
    const got = await traced(from, /^C: e NOOP/);
    const client_ = got.filter((e) => e.startsWith('C: '));
    assert.deepEqual(client_, [
      'C: a AUTHENTICATE PLAIN ***\r\n',
      'C: b AUTHENTICATE PLAIN\r\n',
      'C: ***\r\n',
      'C: c AUTHENTICATE PLAIN\r\n',
      'C: *\r\n',
      'C: d AUTHENTICATE PLAIN\r\n',
      'C: ***\r\n',
      'C: e NOOP\r\n',
    ]);
    assert.ok(got.some((e) => e.startsWith('S: d OK')));
    assert.ok(!got.some((e) => e.includes(wrong)));
    noSecrets(got);
  });

  it('before login, a line that is not a known command is hidden whole; a malformed LOGIN hides its arguments', async () => {
    const from = entries.length;
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    client.send(`${SECRET}\r\n`);
    assert.match(await client.readLine(), /BAD/);
    assert.match((await client.command('a', `LOGN ${USER} ${SECRET}`)).tagged, /^a BAD/);
    assert.match((await client.command('b', `LOGIN "${USER} ${SECRET}`)).tagged, /^b BAD/);
    assert.match((await client.command('c', `LOGIN ${USER}`)).tagged, /^c BAD/);
    client.send(`d LOGIN ${USER} ${SECRET}${'x'.repeat(srv.config.limits.maxLineLength)}\r\n`);
    assert.match((await client.readTagged('d')).tagged, /^d BAD/);
    // A refused literal (over the pre-login limit): its command is traced as far as it came.
    client.send(`${SECRET} {99999}\r\n`);
    assert.match(await client.readLine(), /BAD \[TOOBIG\]/);
    client.send(`x LOGIN ${USER} {99999}\r\n`);
    assert.match(await client.readLine(), /^x BAD \[TOOBIG\]/);
    assert.match((await client.command('e', 'CAPABILITY')).tagged, /^e OK/);
    client.close();
    const all = await traced(from, /^C: e CAPABILITY/);
    // The server's answers echo the tag: where the line was hidden, so is the tag.
    assert.ok(
      all.some((e) => e.startsWith('S: *** BAD')),
      all.join('\n'),
    );
    const got = all.filter((e) => e.startsWith('C: '));
    assert.deepEqual(got, [
      'C: ***\r\n',
      'C: ***\r\n',
      'C: b LOGIN ***\r\n',
      `C: c LOGIN ${USER}\r\n`,
      'C: *** [line-too-long, not read]\r\n',
      'C: ***\r\n',
      `C: x LOGIN ${USER} ***\r\n`,
      'C: e CAPABILITY\r\n',
    ]);
  });

  it('APPEND and FETCH: message data only as its size, ordinary commands verbatim', async () => {
    const from = entries.length;
    const client = await RawClient.login(srv.imapsPort, USER, SECRET);
    const msg = `From: a@example.org\r\nSubject: hi\r\n\r\n${BODY}\r\n`;
    const n = Buffer.byteLength(msg);
    client.send(`a APPEND INBOX (\\Seen) {${n}}\r\n`);
    assert.match(await client.readLine(), /^\+ /);
    client.send(`${msg}\r\n`);
    assert.match((await client.readTagged('a')).tagged, /^a OK/);
    // Over the streaming threshold: FETCH pipes it from the blob store.
    const big = `Subject: big\r\n\r\n${`${BODY} `.repeat(20_000)}\r\n`;
    const bigN = Buffer.byteLength(big);
    assert.match((await client.command('b', `APPEND INBOX {${bigN}+}\r\n${big}`)).tagged, /^b OK/);
    assert.match((await client.command('c', 'SELECT INBOX')).tagged, /^c OK/);
    const fetched = await client.command('d', 'FETCH 1 (FLAGS BODY[] BODY.PEEK[TEXT] RFC822.HEADER BINARY.PEEK[1] PREVIEW)');
    assert.match(fetched.tagged, /^d OK/);
    assert.ok(fetched.lines.some((l) => l.includes(BODY)));
    const streamed = await client.command('e', 'FETCH 2 BODY.PEEK[]');
    assert.match(streamed.tagged, /^e OK/);
    // CATENATE's TEXT parts are message data too (RFC 4469).
    assert.match((await client.command('g', `APPEND INBOX CATENATE (TEXT {${n}+}\r\n${msg})`)).tagged, /^g OK/);
    // IDLE's DONE is no secret (RFC 2177).
    client.send('h IDLE\r\n');
    assert.match(await client.readLine(), /^\+ /);
    client.send('DONE\r\n');
    assert.match((await client.readTagged('h')).tagged, /^h OK/);
    assert.match((await client.command('f', 'FROBNICATE the "rest"')).tagged, /^f BAD/);
    client.close();
    const got = await traced(from, /^C: f FROBNICATE/);
    assert.ok(got.includes(`C: a APPEND INBOX (\\Seen) {${n} bytes}\r\n`), got.join('\n'));
    assert.ok(got.includes(`C: b APPEND INBOX {${bigN} bytes}\r\n`), got.join('\n'));
    assert.ok(got.includes('C: c SELECT INBOX\r\n'));
    assert.ok(got.includes('C: h IDLE\r\n') && got.includes('C: DONE\r\n'), got.join('\n'));
    assert.ok(got.includes(`C: g APPEND INBOX CATENATE (TEXT {${n} bytes})\r\n`), got.join('\n'));
    assert.ok(got.includes('C: f FROBNICATE the "rest"\r\n'), 'after login, unknown commands are shown as received');
    const fetch = got.find((e) => e.startsWith('S: * 1 FETCH'))!;
    assert.match(fetch, new RegExp(`BODY\\[\\] \\{${n}\\}\\r\\n\\{${n} bytes\\}`));
    assert.match(fetch, /RFC822\.HEADER \{\d+\}\r\n\{\d+ bytes\}/);
    assert.match(fetch, /BINARY\[1\] \{\d+\}\r\n\{\d+ bytes\}/);
    assert.match(fetch, /PREVIEW \{\d+ bytes\}/);
    assert.ok(got.includes(`S: {${bigN} bytes}`), got.join('\n'));
    noSecrets(got);
  });
});

describe('POP3 trace from the parsed commands', () => {
  it('USER/PASS, APOP and AUTH PLAIN: secrets hidden, the rest verbatim', async () => {
    const from = entries.length;
    const { client } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    assert.match(await client.command(`USER ${USER}`), /^\+OK/);
    assert.match(await client.command(`PASS ${SECRET} with spaces`), /^-ERR/);
    assert.match(await client.command(`APOP ${USER} c4c9334bac560ecc979e58001b3e22fb`), /^-ERR/);
    assert.match(await client.command(`AUTH PLAIN ${Buffer.from(`\0${USER}\0${SECRET}x`).toString('base64')}`), /^-ERR/);
    client.send('AUTH PLAIN\r\n');
    assert.match(await client.readLine(), /^\+ /);
    assert.match(await client.command('*'), /^-ERR/);
    client.send('AUTH PLAIN\r\n');
    assert.match(await client.readLine(), /^\+ /);
    assert.match(await client.command(SASL), /^\+OK/);
    assert.match(await client.command('STAT'), /^\+OK/);
    client.close();
    const got = (await traced(from, /^C: STAT/)).filter((e) => e.startsWith('C: '));
    assert.deepEqual(got, [
      `C: USER ${USER}\r\n`,
      'C: PASS ***\r\n',
      'C: ***\r\n',
      'C: AUTH PLAIN ***\r\n',
      'C: AUTH PLAIN\r\n',
      'C: *\r\n',
      'C: AUTH PLAIN\r\n',
      'C: ***\r\n',
      'C: STAT\r\n',
    ]);
    noSecrets(since(from));
  });

  it('RETR and TOP: contents as their size, pipelined too', async () => {
    await deliver(srv.server.store, USER, [`Subject: hi\r\n\r\n${BODY}\r\n.${BODY}\r\n`]);
    const from = entries.length;
    const client = await Pop3Client.login(srv.pop3sPort, USER, SECRET);
    client.send('LIST\r\nRETR 1\r\nTOP 1 0\r\nNOOP\r\n');
    const list = await client.readMulti();
    assert.match(list.status, /^\+OK/);
    const retr = await client.readMulti();
    assert.ok(retr.lines.some((l) => l.includes(BODY)));
    const topped = await client.readMulti();
    assert.ok(!topped.lines.some((l) => l.includes(BODY)));
    assert.match(await client.readLine(), /^\+OK/);
    client.close();
    const all = await traced(from, /^C: NOOP/);
    assert.ok(all.includes('C: RETR 1\r\n') && all.includes('C: TOP 1 0\r\n'), all.join('\n'));
    const sizes = all.filter((e) => /^S: \{\d+ bytes\}$/.test(e));
    assert.equal(sizes.length, 2, all.join('\n'));
    noSecrets(all);
  });
});

describe('ManageSieve trace from the read commands', () => {
  it('AUTHENTICATE: the initial response, a literal one and SASL responses hidden; scripts as literal sizes', async () => {
    const from = entries.length;
    const { client } = await SieveClient.connect(srv.managesievePort);
    await client.startTls();
    const wrong = Buffer.from(`\0${USER}\0${SECRET}x`).toString('base64');
    // Failed logins from this address are tarpitted (earlier tests failed some too): generous timeouts.
    assert.match((await client.command(`AUTHENTICATE "PLAIN" "${wrong}"`, 40_000)).status, /^NO/);
    assert.match((await client.command(`AUTHENTICATE "PLAIN" ${literal(wrong)}`, 40_000)).status, /^NO/);
    client.raw.send('AUTHENTICATE "PLAIN"\r\n');
    assert.equal(await client.raw.readLine(), '""');
    assert.match((await client.command(`"${SASL}"`, 40_000)).status, /^OK/);
    assert.match((await client.command(`PUTSCRIPT "s" ${literal('keep;\r\n')}`)).status, /^OK/);
    assert.match((await client.command('NOOP')).status, /^OK/);
    client.close();
    const got = (await traced(from, /^C: NOOP/)).filter((e) => e.startsWith('C: '));
    assert.deepEqual(got, [
      'C: STARTTLS\r\n',
      'C: AUTHENTICATE "PLAIN" ***\r\n',
      'C: AUTHENTICATE "PLAIN" ***\r\n',
      'C: AUTHENTICATE "PLAIN"\r\n',
      'C: ***\r\n',
      'C: PUTSCRIPT "s" {7}\r\n',
      'C: NOOP\r\n',
    ]);
    noSecrets(since(from));
  });
});

describe('TraceText', () => {
  it('keeps an entry bounded: the middle of a long one is elided', () => {
    const t = new TraceText();
    for (let i = 0; i < 1000; i++) t.text('X'.repeat(1000));
    t.bytes(Buffer.alloc(1 << 20, 0x59)).text(' {3}\r\n');
    const out = t.take();
    assert.ok(out.length < 2300, `entry is ${out.length} characters`);
    assert.match(out, /^X{2048}\[… \d+ elided …\]Y+ \{3\}\r\n$/);
    assert.ok(t.empty);
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
