/**
 * Finding 13 (issue 18): APPEND refuses an INTERNALDATE whose UTC date is
 * outside years 1900-9999, and every INTERNALDATE prints a four-digit year.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { formatInternalDate } from '../../src/imap/commands/fetch.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let c: RawClient;
before(async () => {
  srv = await startTestServer();
  await srv.addUser('eve', 'pw');
  c = await RawClient.login(srv.imapsPort, 'eve', 'pw');
});
after(async () => {
  c.close();
  await srv.stop();
});

const MSG = 'Subject: d\r\n\r\nx\r\n';
const append = (tag: string, date: string) => c.command(tag, `APPEND INBOX "${date}" {${MSG.length}+}\r\n${MSG}`);
/** The `date-time` of RFC 9051 §9, with its 4DIGIT year. */
const DATE_TIME = /INTERNALDATE "(?:[ \d]\d)-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}"/;

describe('finding 13: INTERNALDATE range', () => {
  test('dates whose UTC year is outside 1900-9999 are refused with BAD', async () => {
    let n = 0;
    for (const date of [
      '01-Jan-0000 00:00:00 -2359',
      '01-Jan-0000 00:00:00 +2359',
      '01-Jan-1900 00:00:00 +0100',
      '31-Dec-9999 23:59:59 -0001',
      '15-Jun-1899 12:00:00 +0000',
    ]) {
      const r = await append(`b${n++}`, date);
      assert.match(r.tagged, /^b\d+ BAD /, date);
    }
    const r = await c.command('s', 'STATUS INBOX (MESSAGES)');
    assert.match(r.lines.join('\n'), /MESSAGES 0/);
  });

  test('the bounds themselves are stored and print back with four-digit years', async () => {
    assert.match((await append('a1', '01-Jan-1900 00:00:00 +0000')).tagged, /^a1 OK/);
    assert.match((await append('a2', '31-Dec-9999 23:59:59 +0000')).tagged, /^a2 OK/);
    assert.match((await append('a3', '01-Jan-1900 00:30:00 -0100')).tagged, /^a3 OK/);
    assert.match((await c.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    const r = await c.command('f', 'FETCH 1:* INTERNALDATE');
    assert.equal(r.lines.length, 3);
    for (const line of r.lines) assert.match(line, DATE_TIME);
    assert.match(r.lines[0]!, /"01-Jan-1900 00:00:00 \+0000"/);
    assert.match(r.lines[1]!, /"31-Dec-9999 23:59:59 \+0000"/);
    assert.match(r.lines[2]!, /"01-Jan-1900 01:30:00 \+0000"/);
    // SEARCH date keys take any 4DIGIT year.
    assert.match((await c.command('q', 'SEARCH SINCE 1-Jan-0000 BEFORE 1-Jan-9999')).lines.join(), /SEARCH 1 3$/);
  });

  test('a date stored outside the range (before this check) prints as the nearest bound, never a short year', () => {
    const year0 = new Date(0);
    year0.setUTCFullYear(0, 0, 1);
    assert.equal(formatInternalDate(year0), '"01-Jan-1900 00:00:00 +0000"');
    assert.equal(formatInternalDate(new Date(Date.UTC(12000, 0, 1))), '"31-Dec-9999 23:59:59 +0000"');
    assert.equal(formatInternalDate(new Date(Number.NaN)), '"01-Jan-1900 00:00:00 +0000"');
    assert.equal(formatInternalDate(new Date(Date.UTC(2026, 1, 3, 4, 5, 6))), '"03-Feb-2026 04:05:06 +0000"');
  });
});
