/**
 * The npm imapflow client against a real server, the way mail apps use it:
 * STARTTLS on the plain port, implicit TLS, mailbox management, APPEND and
 * reading messages back.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { startTestServer, type TestServer } from './helpers/server.js';

let srv: TestServer;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('dana', 'secret-pass');
});
after(async () => srv.stop());

function client(port: number, secure: boolean): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port,
    secure,
    auth: { user: 'dana', pass: 'secret-pass' },
    tls: { rejectUnauthorized: false },
    logger: false,
  });
}

test('imapflow over STARTTLS: mailboxes, append, fetch', async () => {
  const c = client(srv.imapPort, false);
  await c.connect();
  try {
    const list = await c.list();
    const inbox = list.find((m) => m.path === 'INBOX');
    assert.ok(inbox);
    assert.equal(list.find((m) => m.path === 'Sent')?.specialUse, '\\Sent');
    await c.mailboxCreate('Work/Reports');
    await c.mailboxRename('Work/Reports', 'Work/Old Reports');
    const status = await c.status('Work/Old Reports', { messages: true, uidNext: true });
    assert.ok(status);
    assert.equal(status.messages, 0);

    const raw = Buffer.from('From: Ann <ann@example.com>\r\nTo: dana@example.com\r\nSubject: Quarterly\r\n\r\nNumbers attached.\r\n');
    const res = await c.append('Work/Old Reports', raw, ['\\Flagged'], new Date('2026-03-01T12:00:00Z'));
    assert.ok(res);
    assert.equal(res.uid, 1);

    const lock = await c.getMailboxLock('Work/Old Reports');
    try {
      const msg = await c.fetchOne('1', { source: true, flags: true, internalDate: true, uid: true, size: true });
      assert.ok(msg);
      assert.deepEqual(msg.source, raw);
      assert.ok(msg.flags?.has('\\Flagged'));
      assert.equal(msg.size, raw.length);
      assert.equal(new Date(msg.internalDate!).toISOString(), '2026-03-01T12:00:00.000Z');
    } finally {
      lock.release();
    }
    await c.mailboxDelete('Work/Old Reports');
    const after2 = await c.list();
    assert.ok(!after2.some((m) => m.path === 'Work/Old Reports'));
  } finally {
    await c.logout();
  }
});

test('imapflow over implicit TLS sees the same store', async () => {
  const c = client(srv.imapsPort, true);
  await c.connect();
  try {
    const mb = await c.mailboxOpen('INBOX');
    assert.equal(mb.path, 'INBOX');
    assert.ok(mb.uidValidity > 0n);
    const caps = c.capabilities;
    assert.ok(caps.has('IDLE'));
    assert.ok(caps.has('UIDPLUS'));
  } finally {
    await c.logout();
  }
});

test('imapflow with a wrong password is refused', async () => {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: srv.imapsPort,
    secure: true,
    auth: { user: 'dana', pass: 'nope' },
    tls: { rejectUnauthorized: false },
    logger: false,
  });
  await assert.rejects(c.connect());
});
