/**
 * The transport's trace hook over real sockets, for the protocols besides
 * IMAP (imap-session.test.ts covers IMAP): POP3 after STLS and LMTP show
 * their commands and replies, never a password or message contents.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { LmtpClient } from './helpers/lmtp-client.js';
import { deliver, Pop3Client } from './helpers/pop3-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const SECRET = 'sup3r-secret';
const BODY = 'private-body-text';

describe('protocol trace through the shared transport', () => {
  let srv: TestServer;
  const lines: string[] = [];

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    srv = await startTestServer({ log: { level: 'info', trace: true }, lmtp: { domains: ['example.com'] } }, sink);
    await srv.addUser('tracy', SECRET);
  });
  after(() => srv.stop());

  const traced = (): string => lines.filter((l) => l.includes('"msg":"trace"')).join('');

  test('POP3 after STLS: commands and status lines, PASS hidden, RETR contents as their size', async () => {
    await deliver(srv.server.store, 'tracy', [`Subject: hi\r\n\r\n${BODY}\r\n`]);
    const { client } = await Pop3Client.connect(srv.pop3Port);
    assert.match(await client.command('STLS'), /^\+OK/);
    await client.startTls();
    assert.match(await client.command('USER tracy'), /^\+OK/);
    assert.match(await client.command(`PASS ${SECRET}`), /^\+OK/);
    const retr = await client.multi('RETR 1');
    assert.ok(retr.lines.some((l) => l.includes(BODY)));
    assert.match(await client.command('QUIT'), /^\+OK/);
    const log = traced();
    assert.match(log, /USER tracy/);
    assert.match(log, /PASS \*\*\*/);
    assert.match(log, /\{\d+ bytes\}/);
    assert.doesNotMatch(log, new RegExp(`${SECRET}|${BODY}`));
  });

  test('LMTP: commands and replies, message data never (DATA and BDAT)', async () => {
    const { client } = await LmtpClient.connect(srv.lmtpPort);
    assert.equal((await client.command('LHLO client.example')).code, 250);
    assert.equal((await client.command('MAIL FROM:<a@example.org>')).code, 250);
    assert.equal((await client.command('RCPT TO:<tracy@example.com>')).code, 250);
    assert.equal((await client.command('DATA')).code, 354);
    client.send(`Subject: one\r\n\r\n${BODY}\r\n.\r\n`);
    assert.equal((await client.reply()).code, 250);
    assert.equal((await client.command('MAIL FROM:<a@example.org>')).code, 250);
    assert.equal((await client.command('RCPT TO:<tracy@example.com>')).code, 250);
    const chunk = `Subject: two\r\n\r\n${BODY}\r\n`;
    client.send(`BDAT ${Buffer.byteLength(chunk)} LAST\r\n${chunk}`);
    assert.equal((await client.reply()).code, 250);
    await client.command('QUIT');
    const log = traced();
    assert.match(log, /MAIL FROM:<a@example.org>/);
    assert.match(log, /354 /);
    assert.match(log, /BDAT \d+ LAST/);
    assert.doesNotMatch(log, new RegExp(BODY));
  });
});
