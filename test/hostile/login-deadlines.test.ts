// test:pg skip — timeouts of connections that do not log in
/**
 * Findings 2 and 9 (issue 18): a connection that does not log in is bounded
 * in time whatever it sends. STARTTLS/STLS followed by silence ends at the
 * TLS handshake timeout (and so does silence on the implicit-TLS ports); the
 * login deadline keeps running across the upgrade; a trickle of NOOPs no
 * longer keeps a pre-login connection forever; IMAP closes after too many
 * bad commands in a row, as POP3 and LMTP do.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { Pop3Client } from '../helpers/pop3-client.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';

/** Every socket a test opened, destroyed after it, pass or fail (a failing test must not hang on them). */
const opened: Socket[] = [];

/** Connects a plain socket that collects what arrives and notes when it closed. */
async function plain(port: number): Promise<{ socket: Socket; text: () => string; closedAt: () => number | null }> {
  const socket = connect({ host: '127.0.0.1', port });
  opened.push(socket);
  socket.on('error', () => undefined);
  let data = '';
  let closedAt: number | null = null;
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('close', () => (closedAt = Date.now()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, text: () => data, closedAt: () => closedAt };
}

async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return pred();
}

const HANDSHAKE_S = 2;

test('finding 2: STARTTLS / STLS and then silence is closed at the handshake timeout', async () => {
  // Long idle and login limits: only the handshake timeout can end these connections in time.
  const srv = await startTestServer({ limits: { tlsHandshakeTimeoutSeconds: HANDSHAKE_S, preAuthTimeoutSeconds: 120, loginTimeoutSeconds: 600 } });
  try {
    const holders = [];
    for (let i = 0; i < 10; i++) {
      const imap = await plain(srv.imapPort);
      assert.ok(await until(() => imap.text().includes('\r\n'), 5000));
      imap.socket.write('t STARTTLS\r\n');
      const pop3 = await plain(srv.pop3Port);
      assert.ok(await until(() => pop3.text().includes('\r\n'), 5000));
      pop3.socket.write('STLS\r\n');
      holders.push({ c: imap, go: /t OK/ }, { c: pop3, go: /\+OK.*\r\n\+OK/s });
    }
    const t0 = Date.now();
    for (const h of holders) assert.ok(await until(() => h.go.test(h.c.text()), 5000), `no go-ahead: ${h.c.text()}`);
    // Implicit TLS: connected, and not a byte of handshake.
    const silentTls = [await plain(srv.imapsPort), await plain(srv.pop3sPort)];
    const all = [...holders.map((h) => h.c), ...silentTls];
    assert.ok(await until(() => all.every((c) => c.closedAt() !== null), (HANDSHAKE_S + 6) * 1000), 'a holder is still connected');
    const last = Math.max(...all.map((c) => c.closedAt()!)) - t0;
    assert.ok(last >= (HANDSHAKE_S - 1) * 1000, `closed after ${last} ms, before the timeout`);
  } finally {
    for (const s of opened.splice(0)) s.destroy();
    await srv.stop();
  }
});

test('finding 2 and 9: the login deadline keeps running across STARTTLS, whatever the client sends', async () => {
  const srv = await startTestServer({ limits: { loginTimeoutSeconds: 3, preAuthTimeoutSeconds: 60 } });
  try {
    const { client } = await RawClient.connect(srv.imapPort);
    assert.match((await client.command('t', 'STARTTLS')).tagged, /^t OK/);
    await client.startTls();
    const t0 = Date.now();
    for (let i = 0; i < 20 && !client.isClosed; i++) {
      const r = await client.command(`n${i}`, 'NOOP').catch(() => null);
      if (r === null) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.ok(client.isClosed, 'still connected after 10 s of NOOPs');
    assert.ok(Date.now() - t0 < 8000, `closed after ${Date.now() - t0} ms`);
  } finally {
    for (const s of opened.splice(0)) s.destroy();
    await srv.stop();
  }
});

test('finding 9: one NOOP a second does not keep a pre-login IMAP or POP3 connection', async () => {
  const srv = await startTestServer({ limits: { loginTimeoutSeconds: 3, preAuthTimeoutSeconds: 60 } });
  try {
    const imap = await plain(srv.imapPort);
    const pop3 = await plain(srv.pop3Port);
    const t0 = Date.now();
    for (let i = 0; i < 12 && (imap.closedAt() === null || pop3.closedAt() === null); i++) {
      if (imap.closedAt() === null) imap.socket.write(`n${i} NOOP\r\n`);
      if (pop3.closedAt() === null) pop3.socket.write('CAPA\r\n');
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(await until(() => imap.closedAt() !== null && pop3.closedAt() !== null, 5000), 'a trickling client is still connected');
    assert.match(imap.text(), /\* BYE Too long without logging in/);
    assert.match(pop3.text(), /-ERR Too long without logging in/);
    for (const c of [imap, pop3]) {
      const after = c.closedAt()! - t0;
      assert.ok(after >= 2000 && after < 8000, `closed after ${after} ms`);
    }
    // Logging in in time is not affected: the deadline is gone once logged in.
    await srv.addUser('in', 'pw');
    const client = await RawClient.login(srv.imapsPort, 'in', 'pw');
    await new Promise((r) => setTimeout(r, 4000));
    assert.match((await client.command('s', 'NOOP')).tagged, /^s OK/);
    client.close();
  } finally {
    for (const s of opened.splice(0)) s.destroy();
    await srv.stop();
  }
});

test('finding 9: IMAP says BYE after max-bad-commands bad commands in a row', async () => {
  const srv = await startTestServer({ limits: { maxBadCommands: 5 } });
  try {
    const { client } = await RawClient.connect(srv.imapsPort, { tls: true });
    // Good commands in between reset the count.
    for (let i = 0; i < 4; i++) assert.match((await client.command(`x${i}`, 'FROB')).tagged, /BAD/);
    assert.match((await client.command('ok', 'NOOP')).tagged, /^ok OK/);
    for (let i = 0; i < 4; i++) assert.match((await client.command(`y${i}`, 'FROB')).tagged, /BAD/);
    const last = await client.command('y4', 'FROB');
    assert.match(last.tagged, /^y4 BAD/);
    assert.match(await client.readLine(), /^\* BYE Too many invalid commands/);
    await assert.rejects(client.readLine(3000), /closed/);
    // POP3 keeps its rule, from the same setting.
    const { client: pop3 } = await Pop3Client.connect(srv.pop3sPort, { tls: true });
    for (let i = 0; i < 5; i++) assert.match(await pop3.command('FROB'), /^-ERR/);
    assert.match(await pop3.readLine(), /^-ERR Too many bad commands/);
  } finally {
    for (const s of opened.splice(0)) s.destroy();
    await srv.stop();
  }
});
