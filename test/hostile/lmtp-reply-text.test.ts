// test:pg skip — the text of LMTP replies
/**
 * Fuzz finding 1: LMTP echoed a client's 8-bit octets into reply text
 * ("550 5.1.1 <é@é.example> User unknown", "501 5.5.4 Bad parameter BO\uFFFDY=…"),
 * which RFC 5321 §4.2 forbids (textstring is HT and printable ASCII). Found
 * by the fuzzing harness (test/fuzz/), seed 2, lmtp/rcpt/2.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LmtpClient } from '../helpers/lmtp-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('bob', 'pw');
});
after(async () => srv.stop());

/** RFC 5321 §4.2: Reply-line text is textstring = 1*(%d09 / %d32-126). */
const TEXTSTRING = /^[2-5]\d\d[ -][\t\x20-\x7e]*$/;

test('fuzz finding 1: reply text stays printable ASCII whatever 8-bit octets the client sent', async () => {
  const { client } = await LmtpClient.connect(srv.lmtpPort);
  assert.equal((await client.command('LHLO fuzz.example')).code, 250);
  const replies = [
    await client.command('MAIL FROM:<a@example.com> \u00e9=1'),
    await client.command('MAIL FROM:<a@example.com> BO\uFFFDY=8BITMIME'),
    await client.command('MAIL FROM:<a@example.com> SMTPUTF8'),
    await client.command('RCPT TO:<\u00e9@\u00e9.example>'),
    await client.command('RCPT TO:<\u{1F600}\x01@example.com>'),
  ];
  for (const r of replies) {
    assert.ok(r.code >= 250 && r.code < 600, r.last);
    assert.match(Buffer.from(r.last, 'utf8').toString('latin1'), TEXTSTRING, `reply ${JSON.stringify(r.last)}`);
  }
  // The refusals still say what was refused, with the 8-bit octets masked.
  assert.match(replies[0]!.last, /^501 5\.5\.4 Bad parameter \?=1$/);
  assert.match(replies[3]!.last, /^550 5\.1\.1 <\?@\?\.example> User unknown$/);
  // The session goes on.
  assert.equal((await client.command('RCPT TO:<bob@example.com>')).code, 250);
  client.send('QUIT\r\n');
  await client.waitClosed();
});
