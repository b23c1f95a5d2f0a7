/**
 * Fuzz finding 2: APPEND … CATENATE (URL "") was refused with
 * `NO [BADURL ] …`, which no response grammar allows: url-resp-text is at
 * least one octet (RFC 4469 §6) and a response code's argument is
 * 1*<TEXT-CHAR except "]"> (RFC 9051 §9). Found by the fuzzing harness
 * (test/fuzz/), seed 20261207, imap/examined/131.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkImapLine } from '../fuzz/response-check.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('carol', 'pw');
});
after(async () => srv.stop());

test('fuzz finding 2: an empty CATENATE URL is refused with a BADURL code the grammar allows', async () => {
  const c = await RawClient.login(srv.imapsPort, 'carol', 'pw');
  for (const url of ['""', '"]"', '"\\\\"']) {
    const r = await c.command('c', `APPEND INBOX CATENATE (URL ${url})`);
    assert.match(r.tagged, /^c NO \[BADURL [^\]]+\] /, url);
    assert.equal(checkImapLine(Buffer.from(r.tagged, 'latin1')), null, r.tagged);
  }
  // Nothing was appended and the session goes on.
  const st = await c.command('s', 'STATUS INBOX (MESSAGES)');
  assert.match(st.lines.join('\n'), /MESSAGES 0\)/);
  c.close();
});
