/**
 * LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE and
 * CREATE-SPECIAL-USE (RFC 6154) over real sockets: the RFC examples adapted
 * to our hierarchy, their error paths, configured special-use mailboxes and
 * imapflow's list().
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { RawClient, type Reply } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** No default mailboxes: listings hold exactly what a test creates. */
let srv: TestServer;
/** Special-use mailboxes from the configuration, in the environment's string form; what clients send it is kept. */
let custom: TestServer;
const customTrace: string[] = [];
let users = 0;

before(async () => {
  srv = await startTestServer({ mailboxes: { defaults: [] } });
  const log = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        const entry = line.includes('"trace":"C"') ? (JSON.parse(line) as { data: string }) : null;
        if (entry) customTrace.push(entry.data);
      }
      done();
    },
  });
  custom = await startTestServer({ mailboxes: { defaults: 'Sent Items=sent, Drafts=\\Drafts, Receipts' }, log: { level: 'info', trace: true } }, log);
});
after(async () => {
  await srv.stop();
  await custom.stop();
});

/** A fresh account on a server, logged in over implicit TLS. */
async function freshClient(server = srv): Promise<RawClient> {
  const user = `user${++users}`;
  await server.addUser(user, 'pw');
  const { client } = await RawClient.connect(server.imapsPort, { tls: true });
  ok(await client.command('L', `LOGIN ${user} pw`));
  return client;
}

function ok(r: Reply): Reply {
  assert.match(r.tagged, / OK /, r.tagged);
  return r;
}

/** One untagged LIST response: name, sorted attributes and extended data. */
interface ListEntry {
  name: string;
  attrs: string;
  ext: string;
}

function parseListLine(line: string): ListEntry | null {
  const m = /^\* LIST \(([^)]*)\) "\/" ("(?:[^"\\]|\\.)*"|[^ ]+)(?: (.*))?$/.exec(line);
  if (!m) return null;
  const name = m[2]!.startsWith('"') ? m[2]!.slice(1, -1).replace(/\\(.)/g, '$1') : m[2]!;
  return {
    name,
    attrs: m[1]!
      .split(' ')
      .filter((a) => a !== '')
      .sort()
      .join(' '),
    ext: m[3] ?? '',
  };
}

/** The LIST responses of a reply as "name (attrs) ext", sorted: order is not significant. */
function listing(r: Reply): string[] {
  return r.lines
    .map(parseListLine)
    .filter((e): e is ListEntry => e !== null)
    .map((e) => `${e.name} (${e.attrs})${e.ext ? ` ${e.ext}` : ''}`)
    .sort();
}

async function create(c: RawClient, ...names: string[]): Promise<void> {
  for (const name of names) ok(await c.command('c', `CREATE ${name}`));
}

async function subscribe(c: RawClient, ...names: string[]): Promise<void> {
  for (const name of names) ok(await c.command('s', `SUBSCRIBE ${name}`));
}

async function append(c: RawClient, mailbox: string, flags: string): Promise<void> {
  const msg = 'Subject: hi\r\n\r\nbody\r\n';
  ok(await c.command('a', `APPEND ${mailbox} (${flags}) {${msg.length}+}\r\n${msg}`));
}

/** RFC 5258 §5 example 1's hierarchy, and example 2's subscriptions (INBOX is subscribed at account creation). */
async function rfcHierarchy(c: RawClient): Promise<void> {
  await create(c, 'Fruit', 'Fruit/Apple', 'Fruit/Banana', 'Tofu', 'Vegetable', 'Vegetable/Broccoli', 'Vegetable/Corn');
  await subscribe(c, 'Fruit/Banana', 'Fruit/Peach', 'Vegetable', 'Vegetable/Broccoli');
}

describe('LIST-EXTENDED (RFC 5258 §5)', () => {
  test('capabilities are advertised after login', async () => {
    const c = await freshClient();
    const caps = ok(await c.command('a', 'CAPABILITY')).lines[0]!.split(' ');
    for (const cap of ['LIST-EXTENDED', 'LIST-STATUS', 'SPECIAL-USE', 'CREATE-SPECIAL-USE', 'METADATA', 'LIST-METADATA']) {
      assert.ok(caps.includes(cap), cap);
    }
    c.close();
  });

  test('example 2: SUBSCRIBED selection lists subscribed names, existing or not', async () => {
    const c = await freshClient();
    await rfcHierarchy(c);
    assert.deepEqual(listing(ok(await c.command('A02', 'LIST (SUBSCRIBED) "" "*"'))), [
      'Fruit/Banana (\\HasNoChildren \\Subscribed)',
      'Fruit/Peach (\\HasNoChildren \\NonExistent \\Subscribed)',
      'INBOX (\\HasNoChildren \\Subscribed)',
      'Vegetable (\\HasChildren \\Subscribed)',
      'Vegetable/Broccoli (\\HasNoChildren \\Subscribed)',
    ]);
    // REMOTE changes nothing here (example 5 without remote mailboxes).
    assert.deepEqual(listing(ok(await c.command('A05', 'LIST (REMOTE SUBSCRIBED) "" "*"'))), listing(await c.command('x', 'LIST (SUBSCRIBED) "" "*"')));
    c.close();
  });

  test('examples 3, 4 and 6: RETURN (CHILDREN) and RETURN (SUBSCRIBED)', async () => {
    const c = await freshClient();
    await rfcHierarchy(c);
    const top = ['Fruit (\\HasChildren)', 'INBOX (\\HasNoChildren)', 'Tofu (\\HasNoChildren)', 'Vegetable (\\HasChildren)'];
    assert.deepEqual(listing(ok(await c.command('A03', 'LIST () "" "%" RETURN (CHILDREN)'))), top);
    assert.deepEqual(listing(ok(await c.command('A04', 'LIST (REMOTE) "" "%" RETURN (CHILDREN)'))), top);
    // Example 6: subscription state of existing mailboxes only; no Fruit/Peach.
    assert.deepEqual(listing(ok(await c.command('A06', 'LIST (REMOTE) "" "*" RETURN (SUBSCRIBED)'))), [
      'Fruit (\\HasChildren)',
      'Fruit/Apple (\\HasNoChildren)',
      'Fruit/Banana (\\HasNoChildren \\Subscribed)',
      'INBOX (\\HasNoChildren \\Subscribed)',
      'Tofu (\\HasNoChildren)',
      'Vegetable (\\HasChildren \\Subscribed)',
      'Vegetable/Broccoli (\\HasNoChildren \\Subscribed)',
      'Vegetable/Corn (\\HasNoChildren)',
    ]);
    c.close();
  });

  test('example 7: several patterns, each name once, empty patterns ignored', async () => {
    const c = await freshClient();
    await rfcHierarchy(c);
    assert.deepEqual(listing(ok(await c.command('BBB', 'LIST "" ("INBOX" "Vegetable/%")'))), [
      'INBOX (\\HasNoChildren)',
      'Vegetable/Broccoli (\\HasNoChildren)',
      'Vegetable/Corn (\\HasNoChildren)',
    ]);
    const overlapping = ok(await c.command('b', 'LIST "" (Fruit F* "")'));
    assert.equal(overlapping.lines.filter((l) => parseListLine(l)?.name === 'Fruit').length, 1);
    assert.equal(overlapping.lines.length, 3);
    // RFC 5258 §3: the extended syntax gives "" no special meaning.
    assert.deepEqual(ok(await c.command('c', 'LIST () "" ""')).lines, []);
    assert.deepEqual(ok(await c.command('d', 'LIST "" "" RETURN ()')).lines, []);
    // The basic syntax still answers with the delimiter.
    assert.deepEqual(ok(await c.command('e', 'LIST "" ""')).lines, ['* LIST (\\Noselect) "/" ""']);
    // Reference and patterns combine as in the basic form.
    assert.deepEqual(listing(ok(await c.command('f', 'LIST Vegetable/ (Corn Bro*)'))), [
      'Vegetable/Broccoli (\\HasNoChildren)',
      'Vegetable/Corn (\\HasNoChildren)',
    ]);
    c.close();
  });

  test('example 8: RECURSIVEMATCH returns CHILDINFO for parents of subscribed names the pattern misses', async () => {
    const c = await freshClient();
    await rfcHierarchy(c);
    assert.deepEqual(listing(ok(await c.command('C04', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"'))), [
      'Fruit (\\HasChildren) ("CHILDINFO" ("SUBSCRIBED"))',
      'INBOX (\\HasNoChildren \\Subscribed)',
      'Vegetable (\\HasChildren \\Subscribed) ("CHILDINFO" ("SUBSCRIBED"))',
    ]);
    // Without RECURSIVEMATCH only subscribed names.
    assert.deepEqual(listing(ok(await c.command('C03', 'LIST (SUBSCRIBED) "" "%"'))), [
      'INBOX (\\HasNoChildren \\Subscribed)',
      'Vegetable (\\HasChildren \\Subscribed)',
    ]);
    c.close();
  });

  test('example 9: CHILDINFO whether or not the children match; redundant ones left out', async () => {
    const c = await freshClient();
    await create(c, 'foo2', 'foo2/bar1', 'foo2/bar2', 'baz2/bar2', 'baz2/bar22', 'baz2/bar222', 'eps2', 'eps2/mamba', 'qux2/bar2');
    // qux2 exists only as the parent of qux2/bar2.
    ok(await c.command('d', 'DELETE qux2'));
    await subscribe(c, 'foo2/bar1', 'foo2/bar2', 'baz2/bar2', 'baz2/bar22', 'baz2/bar222', 'eps2', 'eps2/mamba', 'qux2/bar2');
    assert.deepEqual(listing(ok(await c.command('D03', 'LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"'))), [
      'baz2/bar2 (\\HasNoChildren \\Subscribed)',
      'baz2/bar22 (\\HasNoChildren \\Subscribed)',
      'baz2/bar222 (\\HasNoChildren \\Subscribed)',
      'eps2 (\\HasChildren \\Subscribed) ("CHILDINFO" ("SUBSCRIBED"))',
      'foo2 (\\HasChildren) ("CHILDINFO" ("SUBSCRIBED"))',
      'foo2/bar2 (\\HasNoChildren \\Subscribed)',
      'qux2/bar2 (\\HasNoChildren \\Subscribed)',
    ]);
    c.close();
  });

  test('examples 10 and 11: CHILDINFO without \\HasChildren; \\NonExistent parents', async () => {
    const c = await freshClient();
    await create(c, 'foo', 'music/rock');
    ok(await c.command('d', 'DELETE music'));
    await subscribe(c, 'foo/bar');
    assert.deepEqual(listing(ok(await c.command('a2', 'LIST (SUBSCRIBED) "" "foo/*"'))), ['foo/bar (\\HasNoChildren \\NonExistent \\Subscribed)']);
    assert.deepEqual(listing(ok(await c.command('a3', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" foo RETURN (CHILDREN)'))), [
      'foo (\\HasNoChildren) ("CHILDINFO" ("SUBSCRIBED"))',
    ]);
    // Example 11: an implied parent is \NonExistent in the extended syntax, \Noselect in basic rev1 LIST.
    assert.deepEqual(listing(ok(await c.command('b2', 'LIST () "" %'))), [
      'INBOX (\\HasNoChildren)',
      'foo (\\HasNoChildren)',
      'music (\\HasChildren \\NonExistent)',
    ]);
    assert.deepEqual(listing(ok(await c.command('b3', 'LIST "" music'))), ['music (\\HasChildren \\Noselect)']);
    assert.deepEqual(listing(ok(await c.command('b4', 'LIST "" (% music/rock)'))), [
      'INBOX (\\HasNoChildren)',
      'foo (\\HasNoChildren)',
      'music (\\HasChildren \\NonExistent)',
      'music/rock (\\HasNoChildren)',
    ]);
    c.close();
  });

  test('bad options and syntax are BAD', async () => {
    const c = await freshClient();
    for (const cmd of [
      'LIST (RECURSIVEMATCH) "" *',
      'LIST (REMOTE RECURSIVEMATCH) "" *',
      'LIST (BOGUS) "" *',
      'LIST "" * RETURN (BOGUS)',
      'LIST "" * RETURN (STATUS (BOGUS))',
      'LIST "" * RETURN (STATUS ())',
      'LIST "" * RETURN (METADATA (comment))',
      'LIST "" * RETURNS (CHILDREN)',
      'LIST "" * RETURN CHILDREN',
      'LIST "" ()',
      `LIST "" (${Array.from({ length: 33 }, (_, i) => `p${i}`).join(' ')})`,
    ]) {
      assert.match((await c.command('x', cmd)).tagged, /^x BAD /, cmd);
    }
    // Repeated options count once.
    ok(await c.command('y', 'LIST (SUBSCRIBED SUBSCRIBED) "" * RETURN (CHILDREN CHILDREN SUBSCRIBED)'));
    c.close();
  });
});

describe('LIST-STATUS (RFC 5819)', () => {
  test('STATUS follows the LIST response of each selectable mailbox', async () => {
    const c = await freshClient();
    await create(c, 'foo', 'bar/baz');
    ok(await c.command('d', 'DELETE bar'));
    await append(c, 'INBOX', '\\Seen');
    await append(c, 'INBOX', '');
    await append(c, 'foo', '');
    const r = ok(await c.command('A01', 'LIST "" % RETURN (STATUS (MESSAGES UNSEEN))'));
    assert.deepEqual(r.lines, [
      '* LIST (\\HasNoChildren) "/" INBOX',
      '* STATUS INBOX (MESSAGES 2 UNSEEN 1)',
      '* LIST (\\NonExistent \\HasChildren) "/" bar',
      '* LIST (\\HasNoChildren) "/" foo',
      '* STATUS foo (MESSAGES 1 UNSEEN 1)',
    ]);
    c.close();
  });

  test('no STATUS for a name listed only for its CHILDINFO', async () => {
    const c = await freshClient();
    await create(c, 'foo', 'foo/x');
    await subscribe(c, 'foo/x');
    const r = ok(await c.command('A02', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (STATUS (MESSAGES))'));
    assert.deepEqual(r.lines, [
      '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX',
      '* STATUS INBOX (MESSAGES 0)',
      '* LIST (\\HasChildren) "/" foo ("CHILDINFO" ("SUBSCRIBED"))',
    ]);
    c.close();
  });

  test('STATUS items as for STATUS, HIGHESTMODSEQ enabling CONDSTORE', async () => {
    const c = await freshClient();
    ok(await c.command('s', 'SELECT INBOX'));
    const r = ok(await c.command('a', 'LIST "" INBOX RETURN (STATUS (UIDNEXT HIGHESTMODSEQ SIZE) STATUS (MESSAGES))'));
    assert.ok(
      r.lines.some((l) => /^\* OK \[HIGHESTMODSEQ \d+\]/.test(l)),
      r.lines.join('\n'),
    );
    const statusLine = r.lines.find((l) => l.startsWith('* STATUS'))!;
    assert.match(statusLine, /^\* STATUS INBOX \(UIDNEXT 1 HIGHESTMODSEQ \d+ SIZE 0 MESSAGES 0\)$/);
    c.close();
  });
});

describe('SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154)', () => {
  test('configured special-use mailboxes are created, subscribed and listed', async () => {
    const c = await freshClient(custom);
    assert.deepEqual(listing(ok(await c.command('t1', 'LIST "" "%"'))), [
      'Drafts (\\Drafts \\HasNoChildren)',
      'INBOX (\\HasNoChildren)',
      'Receipts (\\HasNoChildren)',
      'Sent Items (\\HasNoChildren \\Sent)',
    ]);
    // §5.2: the SPECIAL-USE selection option lists only mailboxes with a special use.
    assert.deepEqual(listing(ok(await c.command('t3', 'LIST (SPECIAL-USE) "" "*"'))), [
      'Drafts (\\Drafts \\HasNoChildren)',
      'Sent Items (\\HasNoChildren \\Sent)',
    ]);
    assert.deepEqual(listing(ok(await c.command('t2', 'LIST "" "%" RETURN (SPECIAL-USE)'))), listing(await c.command('t', 'LIST "" "%"')));
    assert.deepEqual(listing(ok(await c.command('t4', 'LIST (SUBSCRIBED SPECIAL-USE) "" "*"'))), [
      'Drafts (\\Drafts \\HasNoChildren \\Subscribed)',
      'Sent Items (\\HasNoChildren \\Sent \\Subscribed)',
    ]);
    c.close();
  });

  test('CREATE with USE sets the special use; NO [USEATTR] creates nothing', async () => {
    const c = await freshClient();
    ok(await c.command('t2', 'CREATE MyDrafts (USE (\\Drafts))'));
    ok(await c.command('t3', 'CREATE Saved/Old (USE (\\archive))'));
    ok(await c.command('t4', 'CREATE Plain (USE ())'));
    for (const [cmd, name] of [
      ['CREATE Everything (USE (\\All))', 'Everything'],
      ['CREATE Important (USE (\\Flagged))', 'Important'],
      ['CREATE Odd (USE (\\Bogus))', 'Odd'],
      ['CREATE Both (USE (\\Drafts \\Sent))', 'Both'],
      ['CREATE Deep/Er (USE (\\All))', 'Deep'],
    ] as const) {
      const r = await c.command('n', cmd);
      assert.match(r.tagged, /^n NO \[USEATTR\] /, cmd);
      assert.deepEqual(ok(await c.command('l', `LIST "" ${name}*`)).lines, [], `${name} must not exist`);
    }
    // The same use twice is one use.
    ok(await c.command('t5', 'CREATE Twice (USE (\\Sent \\sent))'));
    assert.deepEqual(listing(ok(await c.command('t6', 'LIST (SPECIAL-USE) "" "*"'))), [
      'MyDrafts (\\Drafts \\HasNoChildren)',
      'Saved/Old (\\Archive \\HasNoChildren)',
      'Twice (\\HasNoChildren \\Sent)',
    ]);
    // RECURSIVEMATCH with SPECIAL-USE reports the parent of a special-use mailbox.
    assert.deepEqual(listing(ok(await c.command('t7', 'LIST (SPECIAL-USE RECURSIVEMATCH) "" "%"'))), [
      'MyDrafts (\\Drafts \\HasNoChildren)',
      'Saved (\\HasChildren) ("CHILDINFO" ("SPECIAL-USE"))',
      'Twice (\\HasNoChildren \\Sent)',
    ]);
    for (const cmd of ['CREATE x (FOO (\\Sent))', 'CREATE x (USE (Sent))', 'CREATE x (USE \\Sent)', 'CREATE x ()']) {
      assert.match((await c.command('b', cmd)).tagged, /^b BAD /, cmd);
    }
    c.close();
  });

  test('imapflow lists with STATUS and special uses through LIST-STATUS', async () => {
    const user = `flow${++users}`;
    await custom.addUser(user, 'pw');
    const flow = new ImapFlow({
      host: '127.0.0.1',
      port: custom.imapsPort,
      secure: true,
      auth: { user, pass: 'pw' },
      tls: { rejectUnauthorized: false },
      logger: false,
    });
    await flow.connect();
    try {
      await flow.append('Receipts', 'Subject: r\r\n\r\nx\r\n', ['\\Seen']);
      await flow.append('Receipts', 'Subject: s\r\n\r\ny\r\n');
      customTrace.length = 0;
      const boxes = await flow.list({ statusQuery: { messages: true, unseen: true } });
      // One LIST asking for STATUS (RFC 5819), no STATUS command per mailbox.
      const commands = customTrace.filter((t) => / (LIST|STATUS) /i.test(t));
      assert.equal(commands.length, 1, commands.join('\n'));
      assert.match(commands[0]!, /LIST .*RETURN \(.*STATUS \(MESSAGES UNSEEN\)/i);
      const receipts = boxes.find((b) => b.path === 'Receipts');
      assert.deepEqual(receipts?.status && { messages: receipts.status.messages, unseen: receipts.status.unseen }, { messages: 2, unseen: 1 });
      assert.equal(boxes.find((b) => b.path === 'Sent Items')?.specialUse, '\\Sent');
      assert.equal(boxes.find((b) => b.path === 'Drafts')?.subscribed, true);
    } finally {
      await flow.logout();
    }
  });
});
