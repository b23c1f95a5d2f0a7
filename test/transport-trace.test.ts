// test:pg skip — what the protocol trace shows of the wire
/**
 * The protocol trace over real sockets and the transport's upgrades: POP3
 * after STLS, IMAP after STARTTLS and under COMPRESS, and LMTP show their
 * commands and replies as framed and written, never a password, and message
 * contents only as their size (auth-trace-redaction.test.ts covers the
 * redaction rules themselves).
 */
import { deflateRawSync, inflateRawSync, constants as zlib } from 'node:zlib';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { LmtpClient } from './helpers/lmtp-client.js';
import { deliver, Pop3Client } from './helpers/pop3-client.js';
import { RawClient } from './helpers/raw-client.js';
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
    assert.match(log, /"data":"USER tracy\\r\\n"/);
    assert.match(log, /"data":"PASS \*\*\*\\r\\n"/);
    assert.match(log, /"data":"\{\d+ bytes\}"/);
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
    assert.match(log, /"data":"MAIL FROM:<a@example.org>\\r\\n"/);
    assert.match(log, /354 /);
    assert.match(log, /"data":"BDAT \d+ LAST\\r\\n"/);
    // DATA's contents (dot-decoded) and BDAT's chunk, each as its size.
    assert.match(log, /"data":"\{\d+ bytes\}\\r\\n\.\\r\\n"/);
    assert.match(log, new RegExp(`"data":"\\{${Buffer.byteLength(chunk)} bytes\\}"`));
    assert.doesNotMatch(log, new RegExp(BODY));
  });

  test('IMAP after STARTTLS and under COMPRESS: commands as framed, LOGIN password hidden, FETCH bodies as their size', async () => {
    await deliver(srv.server.store, 'tracy', [`Subject: imap\r\n\r\n${BODY}\r\n`]);
    const from = lines.length;
    const { client } = await RawClient.connect(srv.imapPort);
    assert.match((await client.command('a', 'STARTTLS')).tagged, /^a OK/);
    await client.startTls();
    assert.match((await client.command('b', `LOGIN tracy ${SECRET}`)).tagged, /^b OK/);
    assert.match((await client.command('c', 'COMPRESS DEFLATE')).tagged, /^c OK/);
    // From here on both directions are raw DEFLATE (RFC 4978): send one compressed command, read until its tagged answer.
    const sock = client.rawSocket();
    const got: Buffer[] = [];
    sock.on('data', (b: Buffer) => got.push(b));
    sock.write(deflateRawSync(Buffer.from('d SELECT INBOX\r\ne FETCH 1 BODY.PEEK[]\r\n'), { finishFlush: zlib.Z_SYNC_FLUSH }));
    let text = '';
    for (let i = 0; i < 200 && !/\r\ne OK/.test(text); i++) {
      await new Promise((r) => setTimeout(r, 25));
      text = inflateRawSync(Buffer.concat(got), { finishFlush: zlib.Z_SYNC_FLUSH }).toString();
    }
    assert.match(text, new RegExp(BODY));
    client.close();
    const log = lines
      .slice(from)
      .filter((l) => l.includes('"msg":"trace"'))
      .join('');
    assert.match(log, /"data":"a STARTTLS\\r\\n"/);
    assert.match(log, /"data":"b LOGIN tracy \*\*\*\\r\\n"/);
    assert.match(log, /"data":"d SELECT INBOX\\r\\n"/);
    assert.match(log, /BODY\[\] \{\d+\}\\r\\n\{\d+ bytes\}\)/);
    assert.doesNotMatch(log, new RegExp(`${SECRET}|${BODY}`));
  });
});
