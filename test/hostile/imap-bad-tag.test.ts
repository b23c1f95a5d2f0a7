// test:pg skip — tag parsing of the IMAP command reader
/**
 * Fuzz finding 3: a command whose tag runs into a character tags may not
 * hold (`a% EXAMINE x`, `a"b NOOP`) was answered `a BAD …`: a tagged
 * completion for a tag the client never sent, which can complete another
 * command of the client's. RFC 9051 §9: a tag ends at SP; a command without
 * a valid tag gets an untagged BAD (§7.1.3). Found by the fuzzing harness
 * (test/fuzz/), seed 20261207.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer({ limits: { maxLiteralSize: 4096 } });
  await srv.addUser('dave', 'pw');
});
after(async () => srv.stop());

test('fuzz finding 3: a malformed tag gets an untagged BAD, never a tagged answer for a prefix of it', async () => {
  const c = await RawClient.login(srv.imapsPort, 'dave', 'pw');
  for (const line of ['a% EXAMINE INBOX', 'a"b NOOP', 'a\\b NOOP', 'a(b NOOP', 'a*NOOP', 'a{99999999}']) {
    c.send(`${line}\r\n`);
    const reply = await c.readLine();
    assert.match(reply, /^\* BAD /, line);
  }
  // A literal right after the tag is accepted for framing (RFC 9051 §4.3), then the command is refused untagged.
  c.send('a{3}\r\n');
  assert.match(await c.readLine(), /^\+ /);
  c.send('xyz\r\n');
  assert.match(await c.readLine(), /^\* BAD /);
  // The connection is intact, and a well-formed tag with "]" in it is still a tag.
  const r = await c.command('t]1', 'NOOP');
  assert.match(r.tagged, /^t\]1 OK/);
  c.close();
});
