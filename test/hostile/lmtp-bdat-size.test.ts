/**
 * Fuzz finding (issue 18): `BDAT <n>` with n far above the size limit made
 * the server read n octets (up to 4 GB) only to refuse them. A chunk larger
 * than the whole message may be is refused as announced, and the session
 * ends, so nothing of it is read.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LmtpClient } from '../helpers/lmtp-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ limits: { appendLimit: 4096 } });
  await srv.addUser('bob', 'pw');
});
after(async () => srv.stop());

test('a BDAT chunk over the message size limit is refused with 552 and the connection closed', async () => {
  const { client } = await LmtpClient.connect(srv.lmtpPort);
  assert.equal((await client.command('LHLO fuzz.example')).code, 250);
  assert.equal((await client.command('MAIL FROM:<a@example.com>')).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.com>')).code, 250);
  const refused = await client.command('BDAT 4294967295 LAST');
  assert.equal(refused.code, 552, refused.last);
  assert.match(refused.last, /^552 5\.3\.4 /);
  await client.waitClosed(5000);
});

test('a chunk within the limit is still taken and delivered', async () => {
  const { client } = await LmtpClient.connect(srv.lmtpPort);
  assert.equal((await client.command('LHLO fuzz.example')).code, 250);
  assert.equal((await client.command('MAIL FROM:<a@example.com>')).code, 250);
  assert.equal((await client.command('RCPT TO:<bob@example.com>')).code, 250);
  const body = Buffer.from('Subject: small\r\n\r\nbody\r\n');
  client.send(Buffer.concat([Buffer.from(`BDAT ${body.length} LAST\r\n`), body]));
  assert.equal((await client.reply()).code, 250);
  client.close();
});
