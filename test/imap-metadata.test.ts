/**
 * METADATA (RFC 5464) and LIST-METADATA (RFC 9590) over real sockets: the RFC
 * examples adapted to our data, options in both positions, limits and
 * all-or-nothing, read-only entries, bad entry names, annotations following
 * RENAME, the modseq bump seen through STATUS, and binary values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RawClient, type Reply } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
let users = 0;

before(async () => {
  srv = await startTestServer({ mailboxes: { defaults: [] } });
});
after(async () => srv.stop());

/** A fresh account, logged in over implicit TLS; returns the client and the user name. */
async function freshClient(): Promise<RawClient> {
  const user = `meta${++users}`;
  await srv.addUser(user, 'pw');
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
  ok(await client.command('L', `LOGIN ${user} pw`));
  return client;
}

function ok(r: Reply): Reply {
  assert.match(r.tagged, / OK /, r.tagged);
  return r;
}

function no(r: Reply, code: string): void {
  assert.match(r.tagged, new RegExp(`^\\S+ NO \\[${code.replace(/ /g, ' ')}\\] `), r.tagged);
}

function bad(r: Reply): void {
  assert.match(r.tagged, /^\S+ BAD /, r.tagged);
}

describe('GETMETADATA and SETMETADATA (RFC 5464 §4)', () => {
  test('server annotations: set, get, per account', async () => {
    const c = await freshClient();
    assert.deepEqual(ok(await c.command('a', 'GETMETADATA "" /shared/comment')).lines, ['* METADATA "" (/shared/comment NIL)']);
    ok(await c.command('b', 'SETMETADATA "" (/shared/comment "Shared comment")'));
    assert.deepEqual(ok(await c.command('c', 'GETMETADATA "" /shared/comment')).lines, ['* METADATA "" (/shared/comment "Shared comment")']);
    // Another account has its own server annotations.
    const other = await freshClient();
    assert.deepEqual(ok(await other.command('d', 'GETMETADATA "" /shared/comment')).lines, ['* METADATA "" (/shared/comment NIL)']);
    // /shared/admin is read-only (§3.2.1.1).
    no(await c.command('e', 'SETMETADATA "" (/shared/admin "mailto:me@example.org")'), 'NOPERM');
    c.close();
    other.close();
  });

  test('mailbox annotations: multi-line literal, several entries, NIL removes', async () => {
    const c = await freshClient();
    const text = 'My new comment across\r\ntwo lines.\r\n';
    ok(await c.command('a', `SETMETADATA INBOX (/private/comment {${text.length}+}\r\n${text})`));
    ok(await c.command('b', 'SETMETADATA INBOX (/shared/comment "This one is for you!")'));
    const r = ok(await c.command('c', 'GETMETADATA "INBOX" (/shared/comment /PRIVATE/Comment)'));
    assert.deepEqual(r.lines, [`* METADATA INBOX (/shared/comment "This one is for you!" /private/comment {${text.length}}\r\n${text})`]);
    // The §4.4.1 examples list entries without parentheses.
    assert.deepEqual(ok(await c.command('d', 'GETMETADATA INBOX /shared/comment /private/comment')).lines, r.lines);
    ok(await c.command('e', 'SETMETADATA INBOX (/private/comment NIL)'));
    assert.deepEqual(ok(await c.command('f', 'GETMETADATA INBOX (/private/comment /shared/comment)')).lines, [
      '* METADATA INBOX (/private/comment NIL /shared/comment "This one is for you!")',
    ]);
    no(await c.command('g', 'GETMETADATA Nowhere /private/comment'), 'NONEXISTENT');
    no(await c.command('h', 'SETMETADATA Nowhere (/private/comment "x")'), 'NONEXISTENT');
    c.close();
  });

  test('MAXSIZE leaves out big values and reports LONGENTRIES, in either option position', async () => {
    const c = await freshClient();
    const big = 'x'.repeat(2199);
    ok(await c.command('a', `SETMETADATA INBOX (/shared/comment {${big.length}+}\r\n${big} /private/comment "My own comment")`));
    const want = ['* METADATA INBOX (/private/comment "My own comment")'];
    for (const cmd of [
      'GETMETADATA INBOX (MAXSIZE 1024) (/shared/comment /private/comment)',
      'GETMETADATA (MAXSIZE 1024) INBOX (/shared/comment /private/comment)',
    ]) {
      const r = ok(await c.command('b', cmd));
      assert.deepEqual(r.lines, want, cmd);
      assert.match(r.tagged, /^b OK \[METADATA LONGENTRIES 2199\] /);
    }
    const all = ok(await c.command('c', 'GETMETADATA INBOX (MAXSIZE 5000) (/shared/comment)'));
    assert.equal(all.lines.length, 1);
    assert.doesNotMatch(all.tagged, /LONGENTRIES/);
    c.close();
  });

  test('DEPTH 0, 1 and infinity', async () => {
    const c = await freshClient();
    ok(
      await c.command(
        'a',
        'SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000" /private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/boss/cc "CC boss")',
      ),
    );
    assert.deepEqual(ok(await c.command('b', 'GETMETADATA INBOX (DEPTH 1) (/private/filters/values)')).lines, [
      '* METADATA INBOX (/private/filters/values NIL /private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/small "SMALLER 5000")',
    ]);
    const deep = ok(await c.command('c', 'GETMETADATA (DEPTH infinity) INBOX /private'));
    assert.match(deep.lines[0]!, /\/private\/filters\/values\/boss\/cc "CC boss"/);
    assert.deepEqual(ok(await c.command('d', 'GETMETADATA INBOX (DEPTH 0) /private/filters')).lines, ['* METADATA INBOX (/private/filters NIL)']);
    // DEPTH and MAXSIZE together.
    const both = ok(await c.command('e', 'GETMETADATA INBOX (DEPTH 1 MAXSIZE 8) (/private/filters/values)'));
    assert.deepEqual(both.lines, ['* METADATA INBOX (/private/filters/values NIL)']);
    assert.match(both.tagged, /\[METADATA LONGENTRIES 23\]/);
    c.close();
  });

  test('limits: MAXSIZE and TOOMANY, and nothing changes when one entry fails', async () => {
    const c = await freshClient();
    const huge = 'y'.repeat(16 * 1024 + 1);
    no(await c.command('a', `SETMETADATA INBOX (/private/ok "fine" /private/comment {${huge.length}+}\r\n${huge})`), 'METADATA MAXSIZE 16384');
    assert.deepEqual(ok(await c.command('b', 'GETMETADATA INBOX /private/ok')).lines, ['* METADATA INBOX (/private/ok NIL)']);
    const many = Array.from({ length: 63 }, (_, i) => `/private/e${i} "v"`).join(' ');
    ok(await c.command('c', `SETMETADATA INBOX (${many})`));
    no(await c.command('d', 'SETMETADATA INBOX (/private/e0 "changed" /private/x "1" /private/y "2")'), 'METADATA TOOMANY');
    assert.deepEqual(ok(await c.command('e', 'GETMETADATA INBOX (/private/e0 /private/x)')).lines, ['* METADATA INBOX (/private/e0 "v" /private/x NIL)']);
    // The 64th fits; changing existing ones and removing always work.
    ok(await c.command('f', 'SETMETADATA INBOX (/private/x "1")'));
    no(await c.command('g', 'SETMETADATA INBOX (/private/y "2")'), 'METADATA TOOMANY');
    ok(await c.command('h', 'SETMETADATA INBOX (/private/e0 "changed" /private/e1 NIL)'));
    ok(await c.command('i', 'SETMETADATA INBOX (/private/y "2")'));
    // The limit is per mailbox: the server level has its own.
    ok(await c.command('j', 'SETMETADATA "" (/private/z "3")'));
    c.close();
  });

  test('special use as /private/specialuse (RFC 6154 §4), read-only', async () => {
    const c = await freshClient();
    ok(await c.command('a', 'CREATE MyDrafts (USE (\\Drafts))'));
    assert.deepEqual(ok(await c.command('t2', 'GETMETADATA "MyDrafts" /private/specialuse')).lines, ['* METADATA MyDrafts (/private/specialuse "\\\\Drafts")']);
    assert.match(ok(await c.command('b', 'GETMETADATA MyDrafts (DEPTH 1) /private')).lines[0]!, /\/private\/specialuse "\\\\Drafts"/);
    assert.deepEqual(ok(await c.command('c', 'GETMETADATA INBOX /private/specialuse')).lines, ['* METADATA INBOX (/private/specialuse NIL)']);
    no(await c.command('t3', 'SETMETADATA "MyDrafts" (/private/specialuse "\\\\Sent")'), 'NOPERM');
    c.close();
  });

  test('binary values travel as literal8', async () => {
    const c = await freshClient();
    const value = Buffer.from([0x61, 0x00, 0x62, 0xff, 0x0d, 0x0a]);
    ok(await c.command('a', Buffer.concat([Buffer.from(`SETMETADATA INBOX (/private/vendor/mailkeep/blob ~{${value.length}+}\r\n`), value, Buffer.from(')')])));
    const r = ok(await c.command('b', 'GETMETADATA INBOX /private/vendor/mailkeep/blob'));
    assert.deepEqual(
      Buffer.from(r.lines[0]!, 'latin1'),
      Buffer.concat([Buffer.from(`* METADATA INBOX (/private/vendor/mailkeep/blob ~{${value.length}}\r\n`), value, Buffer.from(')')]),
    );
    // A plain literal may not carry NUL.
    bad(await c.command('c', Buffer.concat([Buffer.from('SETMETADATA INBOX (/private/comment {3+}\r\n'), Buffer.from([0x61, 0, 0x62]), Buffer.from(')')])));
    c.close();
  });

  test('invalid entry names and options are BAD', async () => {
    const c = await freshClient();
    for (const cmd of [
      'SETMETADATA INBOX (/comment "x")',
      'SETMETADATA INBOX (comment "x")',
      'SETMETADATA INBOX (/private "x")',
      'SETMETADATA INBOX (/private/ "x")',
      'SETMETADATA INBOX (/private//x "x")',
      'SETMETADATA INBOX (/private/a* "x")',
      'SETMETADATA INBOX (/private/a% "x")',
      'SETMETADATA INBOX (/shared/vendor/acme "x")',
      'SETMETADATA INBOX ("/private/caf\u00e9" "x")',
      'SETMETADATA INBOX (/private/comment)',
      'SETMETADATA INBOX ()',
      'GETMETADATA INBOX /other/comment',
      'GETMETADATA INBOX (DEPTH 2) /private/comment',
      'GETMETADATA INBOX (MAXSIZE -1) /private/comment',
      'GETMETADATA INBOX (MAXSIZE) /private/comment',
      'GETMETADATA INBOX (BOGUS 1) /private/comment',
      'GETMETADATA INBOX',
    ]) {
      bad(await c.command('x', cmd));
    }
    c.close();
  });

  test('annotations follow RENAME and go with DELETE', async () => {
    const c = await freshClient();
    ok(await c.command('a', 'CREATE Work/Q1'));
    ok(await c.command('b', 'SETMETADATA Work/Q1 (/private/comment "quarter")'));
    ok(await c.command('c', 'RENAME Work Done'));
    assert.deepEqual(ok(await c.command('d', 'GETMETADATA Done/Q1 /private/comment')).lines, ['* METADATA Done/Q1 (/private/comment "quarter")']);
    ok(await c.command('e', 'DELETE Done/Q1'));
    ok(await c.command('f', 'CREATE Done/Q1'));
    assert.deepEqual(ok(await c.command('g', 'GETMETADATA Done/Q1 /private/comment')).lines, ['* METADATA Done/Q1 (/private/comment NIL)']);
    c.close();
  });

  test('SETMETADATA on a mailbox raises its HIGHESTMODSEQ (RFC 7162 §3.2)', async () => {
    const c = await freshClient();
    const modseq = async (): Promise<number> => {
      const line = ok(await c.command('s', 'STATUS INBOX (HIGHESTMODSEQ)')).lines.find((l) => l.startsWith('* STATUS'))!;
      return Number(/HIGHESTMODSEQ (\d+)/.exec(line)![1]);
    };
    const start = await modseq();
    ok(await c.command('a', 'SETMETADATA INBOX (/private/comment "one")'));
    assert.equal(await modseq(), start + 1);
    // Setting the same value again, or a server annotation, changes no mailbox.
    ok(await c.command('b', 'SETMETADATA INBOX (/private/comment "one")'));
    ok(await c.command('c', 'SETMETADATA "" (/private/comment "server")'));
    assert.equal(await modseq(), start + 1);
    c.close();
  });
});

describe('LIST-METADATA (RFC 9590 §4)', () => {
  test('METADATA follows the LIST response of each listable mailbox, NIL when unset', async () => {
    const c = await freshClient();
    ok(await c.command('a', 'CREATE foo'));
    ok(await c.command('b', 'CREATE bar/baz'));
    ok(await c.command('c', 'DELETE bar'));
    const color = '/shared/vendor/cmu/cyrus-imapd/color';
    ok(await c.command('d', `SETMETADATA INBOX (${color} "#b71c1c")`));
    assert.deepEqual(ok(await c.command('A01', `LIST "" % RETURN (METADATA (${color}))`)).lines, [
      '* LIST (\\HasNoChildren) "/" INBOX',
      `* METADATA INBOX (${color} "#b71c1c")`,
      '* LIST (\\NonExistent \\HasChildren) "/" bar',
      '* LIST (\\HasNoChildren) "/" foo',
      `* METADATA foo (${color} NIL)`,
    ]);
  });

  test('no METADATA for a name listed only for its CHILDINFO; combined with STATUS', async () => {
    const c = await freshClient();
    ok(await c.command('a', 'CREATE foo/sub'));
    ok(await c.command('b', 'SUBSCRIBE foo/sub'));
    ok(await c.command('c', 'SETMETADATA INBOX (/private/comment "hi" /shared/comment "all")'));
    assert.deepEqual(
      ok(await c.command('A02', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (METADATA (/private/comment /shared/comment) STATUS (MESSAGES))')).lines,
      [
        '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX',
        '* STATUS INBOX (MESSAGES 0)',
        '* METADATA INBOX (/private/comment "hi" /shared/comment "all")',
        '* LIST (\\HasChildren) "/" foo ("CHILDINFO" ("SUBSCRIBED"))',
      ],
    );
  });
});
