// test:pg skip — line size limits of the POP3 framer
/**
 * Issue 18 (finding 1 for POP3): before login a POP3 line may hold a few KiB
 * (limits.pre-auth-command-size), an AUTH line or SASL response up to
 * limits.pre-auth-sasl-size so OAuth tokens fit (RFC 5034 §4), and after
 * login limits.max-line-length. A line over its limit gets -ERR, is skipped
 * without being buffered, and the session goes on.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Pop3Client } from '../helpers/pop3-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
before(async () => {
  srv = await startTestServer({ plaintextAuth: { allowInsecure: true } });
  await srv.addUser('pat', 'pw');
});
after(async () => srv.stop());

test('before login: 9,000 octets of USER are refused, 20,000 octets of AUTH are read; after login the long limit applies', async () => {
  const { client } = await Pop3Client.connect(srv.pop3Port);
  try {
    assert.match(await client.command(`USER ${'u'.repeat(9000)}`), /^-ERR .*too long/i);
    // The session goes on, and the over-long line was not kept.
    assert.match((await client.multi('CAPA')).status, /^\+OK/);

    const token = Buffer.from(`\0pat\0${'x'.repeat(15000)}`).toString('base64');
    const auth = await client.command(`AUTH PLAIN ${token}`);
    assert.doesNotMatch(auth, /too long/i, 'an AUTH line of 20,000 octets is read');
    assert.match(auth, /^-ERR/);

    assert.match(await client.command('AUTH PLAIN'), /^\+ /);
    const response = await client.command(token);
    assert.doesNotMatch(response, /too long/i, 'a SASL response line of 20,000 octets is read');

    assert.match(await client.command('USER pat'), /^\+OK/);
    assert.match(await client.command('PASS pw'), /^\+OK/);
    // After login: limits.max-line-length (65,536) — 9,000 octets are an unknown argument, not too long.
    assert.doesNotMatch(await client.command(`LIST ${'1'.repeat(9000)}`), /too long/i);
  } finally {
    client.close();
  }
});
