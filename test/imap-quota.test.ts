/**
 * QUOTA (RFC 9208) over real sockets: GETQUOTA, GETQUOTAROOT, SETQUOTA
 * refused for users, OVERQUOTA on APPEND and COPY (not MOVE, which changes no
 * usage), and MULTIAPPEND (RFC 3502) staying all or nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AccountId } from '../src/ids.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;
let users = 0;

before(async () => {
  srv = await startTestServer();
});
after(async () => srv.stop());

/** A message of exactly `size` octets. */
function sized(size: number, tag = 'q'): Buffer {
  const head = `Subject: ${tag}\r\n\r\n`;
  return Buffer.from(head + 'x'.repeat(size - head.length));
}

async function login(): Promise<{ c: RawClient; id: AccountId }> {
  const user = `quota${++users}`;
  await srv.addUser(user, 'pw');
  const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
  assert.match((await client.command('l', `LOGIN ${user} pw`)).tagged, /^l OK/);
  const account = await srv.server.store.findAccount(user);
  assert.ok(account);
  return { c: client, id: account.id };
}

/** APPEND with LITERAL+; returns the tagged line. */
async function append(c: RawClient, mailbox: string, ...msgs: Buffer[]): Promise<string> {
  const parts: Buffer[] = [Buffer.from(`a APPEND ${mailbox}`)];
  for (const m of msgs) parts.push(Buffer.from(` {${m.length}+}\r\n`), m);
  parts.push(Buffer.from('\r\n'));
  c.send(Buffer.concat(parts));
  return (await c.readTagged('a')).tagged;
}

async function messages(c: RawClient, mailbox: string): Promise<number> {
  const r = await c.command('st', `STATUS ${mailbox} (MESSAGES)`);
  const m = / \(MESSAGES (\d+)\)$/.exec(r.lines.find((l) => l.startsWith('* STATUS')) ?? '');
  assert.ok(m, r.lines.join('\n'));
  return Number(m[1]);
}

describe('QUOTA (RFC 9208)', () => {
  test('§3.1.1 capabilities: QUOTA and both resources; no QUOTASET since users cannot set limits', async () => {
    const { c } = await login();
    const caps = (await c.command('c', 'CAPABILITY')).lines[0]!.split(' ');
    for (const cap of ['QUOTA', 'QUOTA=RES-STORAGE', 'QUOTA=RES-MESSAGE', 'MULTIAPPEND']) assert.ok(caps.includes(cap), cap);
    assert.ok(!caps.includes('QUOTASET'));
    c.close();
  });

  test('§4.1.2 GETQUOTAROOT: every mailbox, existing or not, is under root ""; without limits there is no root (§7: no empty QUOTA list)', async () => {
    const { c, id } = await login();
    // §4.2.2 "* QUOTAROOT comp.mail.mime": a mailbox with no quota root; no QUOTA follows.
    const r = await c.command('G0002', 'GETQUOTAROOT INBOX');
    assert.deepEqual(r.lines, ['* QUOTAROOT INBOX']);
    assert.match(r.tagged, /^G0002 OK/);
    // §4.1.1: GETQUOTA's OK needs a QUOTA response, and §7's quota-list needs a resource: the root does not exist.
    assert.match((await c.command('g', 'GETQUOTA ""')).tagged, /^g NO \[NONEXISTENT\]/);
    await srv.server.store.setQuota(id, { storage: 4096, messages: null });
    const limited = await c.command('g', 'GETQUOTAROOT "no such/box"');
    assert.deepEqual(limited.lines, ['* QUOTAROOT "no such/box" ""', '* QUOTA "" (STORAGE 0 4)']);
    await srv.server.store.setQuota(id, { storage: null, messages: null });
    assert.deepEqual((await c.command('g', 'GETQUOTAROOT "no such/box"')).lines, ['* QUOTAROOT "no such/box"']);
    c.close();
  });

  test('§4.1.1 GETQUOTA: usage and limit of each limited resource, STORAGE in units of 1024 octets', async () => {
    const { c, id } = await login();
    assert.match(await append(c, 'INBOX', sized(3000), sized(2000)), /^a OK/);
    assert.match(await append(c, 'Sent', sized(500)), /^a OK/);
    await srv.server.store.setQuota(id, { storage: 10 * 1024 * 1024, messages: 1000 });
    const r = await c.command('G0001', 'GETQUOTA ""');
    // 5500 octets are 5 units (whole units used).
    assert.deepEqual(r.lines, ['* QUOTA "" (STORAGE 5 10240 MESSAGE 3 1000)']);
    await srv.server.store.setQuota(id, { storage: null, messages: 7 });
    assert.deepEqual((await c.command('g', 'GETQUOTA ""')).lines, ['* QUOTA "" (MESSAGE 3 7)']);
    const root = await c.command('g', 'GETQUOTAROOT Sent');
    assert.deepEqual(root.lines, ['* QUOTAROOT Sent ""', '* QUOTA "" (MESSAGE 3 7)']);
    // Expunged messages no longer count.
    await c.command('s', 'SELECT INBOX');
    await c.command('st', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await c.command('x', 'EXPUNGE');
    assert.deepEqual((await c.command('g', 'GETQUOTA ""')).lines, ['* QUOTA "" (MESSAGE 2 7)']);
    c.close();
  });

  test('§4.1.1 GETQUOTA of an unknown root is NO; bad syntax is BAD', async () => {
    const { c } = await login();
    assert.match((await c.command('g', 'GETQUOTA "#user/alice"')).tagged, /^g NO \[NONEXISTENT\]/);
    assert.match((await c.command('g', 'GETQUOTA')).tagged, /^g BAD/);
    assert.match((await c.command('g', 'GETQUOTAROOT')).tagged, /^g BAD/);
    c.close();
  });

  test('§4.1.3 SETQUOTA: parsed, then refused with NOPERM; limits stay', async () => {
    const { c, id } = await login();
    await srv.server.store.setQuota(id, { storage: 2048, messages: null });
    const r = await c.command('S0001', 'SETQUOTA "" (STORAGE 510)');
    assert.match(r.tagged, /^S0001 NO \[NOPERM\]/);
    assert.match((await c.command('s', 'SETQUOTA "" ()')).tagged, /^s NO \[NOPERM\]/);
    for (const bad of ['SETQUOTA ""', 'SETQUOTA "" (STORAGE)', 'SETQUOTA "" (STORAGE x)', 'SETQUOTA "" STORAGE 5']) {
      assert.match((await c.command('b', bad)).tagged, /^b BAD/, bad);
    }
    assert.deepEqual((await c.command('g', 'GETQUOTA ""')).lines, ['* QUOTA "" (STORAGE 0 2)']);
    c.close();
  });

  test('§4.3.1 OVERQUOTA on APPEND and COPY; MOVE changes no usage and works at the limit', async () => {
    const { c, id } = await login();
    assert.match(await append(c, 'INBOX', sized(1000)), /^a OK/);
    await srv.server.store.setQuota(id, { storage: null, messages: 2 });
    assert.match(await append(c, 'INBOX', sized(1000)), /^a OK/);
    assert.match(await append(c, 'INBOX', sized(1000)), /^a NO \[OVERQUOTA\]/);
    await c.command('s', 'SELECT INBOX');
    assert.match((await c.command('c', 'COPY 1 Archive')).tagged, /^c NO \[OVERQUOTA\]/);
    assert.equal(await messages(c, 'Archive'), 0);
    assert.match((await c.command('m', 'MOVE 1 Archive')).tagged, /^m OK/);
    assert.equal(await messages(c, 'Archive'), 1);
    // Storage: 2000 octets used, limit 2500.
    await srv.server.store.setQuota(id, { storage: 2500, messages: null });
    assert.match(await append(c, 'Sent', sized(501)), /^a NO \[OVERQUOTA\]/);
    assert.match(await append(c, 'Sent', sized(500)), /^a OK/);
    assert.match((await c.command('c', 'UID COPY 1:* Sent')).tagged, /^c NO \[OVERQUOTA\]/);
    assert.equal(await messages(c, 'Sent'), 1);
    c.close();
  });
});

describe('MULTIAPPEND (RFC 3502)', () => {
  test('appends several messages with one APPENDUID range', async () => {
    const { c } = await login();
    const tagged = await append(c, 'Drafts', sized(100, 'a'), sized(200, 'b'), sized(300, 'c'));
    assert.match(tagged, /^a OK \[APPENDUID \d+ 1:3\]/);
    await c.command('e', 'EXAMINE Drafts');
    const f = await c.command('f', 'FETCH 1:* RFC822.SIZE');
    assert.deepEqual(f.lines, ['* 1 FETCH (RFC822.SIZE 100)', '* 2 FETCH (RFC822.SIZE 200)', '* 3 FETCH (RFC822.SIZE 300)']);
    c.close();
  });

  test('RFC 3502 §6.3.11: one bad message in the set and nothing is appended', async () => {
    const { c, id } = await login();
    // An empty message in the middle.
    const r = await append(c, 'INBOX', sized(100), Buffer.alloc(0), sized(100));
    assert.match(r, /^a NO/);
    assert.equal(await messages(c, 'INBOX'), 0);
    // A syntax error after two good messages (a flag list where a literal must be).
    c.send(Buffer.concat([Buffer.from(`b APPEND INBOX {100+}\r\n`), sized(100), Buffer.from(` {100+}\r\n`), sized(100), Buffer.from(' (\\Seen)\r\n')]));
    assert.match((await c.readTagged('b')).tagged, /^b BAD/);
    assert.equal(await messages(c, 'INBOX'), 0);
    // The third message would pass the quota.
    await srv.server.store.setQuota(id, { storage: null, messages: 2 });
    assert.match(await append(c, 'INBOX', sized(100), sized(100), sized(100)), /^a NO \[OVERQUOTA\]/);
    assert.equal(await messages(c, 'INBOX'), 0);
    assert.match(await append(c, 'INBOX', sized(100), sized(100)), /^a OK \[APPENDUID \d+ 1:2\]/);
    c.close();
  });
});

test('STATUS DELETED and DELETED-STORAGE tell what EXPUNGE would free (RFC 9208 §5.1)', async () => {
  const srv2 = await startTestServer();
  try {
    await srv2.addUser('ds', 'pw');
    const { client } = await RawClient.connect(srv2.imapsPort, { tls: true });
    await client.command('l', 'LOGIN ds pw');
    const sizes = [100, 250, 4000];
    for (const n of sizes) {
      const msg = `Subject: s\r\n\r\n${'x'.repeat(n - 16)}\r\n`;
      await client.command('a', `APPEND INBOX {${msg.length}+}\r\n${msg}`);
    }
    await client.command('s', 'SELECT INBOX');
    let r = await client.command('st', 'STATUS INBOX (DELETED DELETED-STORAGE)');
    assert.deepEqual(r.lines, ['* STATUS INBOX (DELETED 0 DELETED-STORAGE 0)']);
    await client.command('d', 'STORE 2:3 +FLAGS.SILENT (\\Deleted)');
    r = await client.command('st2', 'STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)');
    assert.deepEqual(r.lines, [`* STATUS INBOX (MESSAGES 3 DELETED 2 DELETED-STORAGE ${sizes[1]! + sizes[2]!})`]);
    client.close();
  } finally {
    await srv2.stop();
  }
});
