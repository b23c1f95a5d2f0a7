/**
 * Finding 18 (issue 18): a section part number no message has, up to 2^32-1,
 * is a missing part like any other (RFC 9051 §6.4.5), not a syntax error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let c: RawClient;
before(async () => {
  srv = await startTestServer();
  await srv.addUser('eve', 'pw');
  c = await RawClient.login(srv.imapsPort, 'eve', 'pw');
  const msg = 'Subject: x\r\n\r\nhello\r\n';
  assert.match((await c.command('a', `APPEND INBOX {${msg.length}+}\r\n${msg}`)).tagged, /^a OK/);
  assert.match((await c.command('s', 'SELECT INBOX')).tagged, /^s OK/);
});
after(async () => {
  c.close();
  await srv.stop();
});

async function fetch(item: string): Promise<{ lines: string[]; tagged: string }> {
  return c.command('f', `FETCH 1 (${item})`);
}

describe('finding 18: huge section part numbers', () => {
  test('BODY[n] for any n up to 4294967295 that does not exist is NIL, like BODY[99]', async () => {
    for (const [item, shown] of [
      ['BODY.PEEK[99]', 'BODY[99]'],
      ['BODY.PEEK[4294967295]', 'BODY[4294967295]'],
      ['BODY.PEEK[4294967295.HEADER]', 'BODY[4294967295.HEADER]'],
      ['BODY.PEEK[1.4294967295.MIME]', 'BODY[1.4294967295.MIME]'],
      ['BODY.PEEK[4294967295]<0.10>', 'BODY[4294967295]<0>'],
    ] as const) {
      const r = await fetch(item);
      assert.match(r.tagged, /^f OK/, item);
      assert.deepEqual(r.lines, [`* 1 FETCH (${shown} NIL)`], item);
    }
    // The part that exists is still served.
    assert.deepEqual((await fetch('BODY.PEEK[1]')).lines, ['* 1 FETCH (BODY[1] {7}\r\nhello\r\n)']);
  });

  test('BINARY of a huge missing part is the same NO as for any missing part', async () => {
    const small = await fetch('BINARY.PEEK[99]');
    const huge = await fetch('BINARY.PEEK[4294967295]');
    assert.match(small.tagged, /^f NO \[NONEXISTENT\]/);
    assert.equal(huge.tagged, small.tagged);
  });

  test('numbers past 32 bits remain a syntax error', async () => {
    for (const item of ['BODY[4294967296]', 'BODY[99999999999]', 'BINARY[4294967296]', 'BODY[01]']) {
      assert.match((await fetch(item)).tagged, /^f BAD /, item);
    }
    assert.match((await c.command('n', 'NOOP')).tagged, /^n OK/);
  });
});
