// test:pg skip — the text of a parser refusal
/**
 * Fuzz finding 4: a refusal that quotes the client's argument echoed a bare
 * CR into the tagged line (`t BAD Error in IMAP command GETMETADATA: Invalid
 * GETMETADATA option N|2C…\r!EAE…`); RFC 9051 §9 text is TEXT-CHAR, never CR
 * or LF. Found by the fuzzing harness (test/fuzz/), seed 20261207,
 * imap/not-authenticated/47227.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { checkImapLine } from '../fuzz/response-check.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('erin', 'pw');
});
after(async () => srv.stop());

test('fuzz finding 4: a tagged refusal never echoes a bare CR or NUL', async () => {
  const c = await RawClient.login(srv.imapsPort, 'erin', 'pw');
  // The option arrives as a literal, so it may hold any octet; the refusal quotes it.
  c.send('t GETMETADATA ({5+}\r\nA\rB\nC 1) INBOX /private/comment\r\n');
  const tagged = await c.readLineBytes();
  assert.match(tagged.toString('latin1'), /^t BAD /);
  assert.equal(checkImapLine(tagged), null, JSON.stringify(tagged.toString('latin1')));
  const r = await c.command('n', 'NOOP');
  assert.match(r.tagged, /^n OK/);
  c.close();
});
