// test:pg skip — the inactivity timer of a session
/**
 * Finding 17 (issue 18): only the client's input resets the inactivity
 * timer. The IDLE heartbeat ("* OK Still here") used to count as activity,
 * so an idler that sent nothing was never logged out. The limit is
 * limits.idle-timeout-seconds, at least 30 minutes by default (RFC 9051 §5.4).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { RawClient } from '../helpers/raw-client.js';
import { startTestServer } from '../helpers/server.js';

test('finding 17: an idler that sends nothing is logged out despite heartbeats', async () => {
  assert.ok(configSchema.parse({}).limits.idleTimeoutSeconds >= 30 * 60, 'RFC 9051 §5.4: at least 30 minutes by default');
  const TIMEOUT_S = 3;
  const srv = await startTestServer({ limits: { idleTimeoutSeconds: TIMEOUT_S }, imap: { idleHeartbeatSeconds: 1 } });
  try {
    await srv.addUser('idler', 'pw');
    const client = await RawClient.login(srv.imapsPort, 'idler', 'pw');
    assert.match((await client.command('s', 'SELECT INBOX')).tagged, /^s OK/);
    client.send('i IDLE\r\n');
    assert.match(await client.readLine(), /^\+ /);
    const t0 = Date.now();
    let heartbeats = 0;
    let bye = '';
    for (let i = 0; i < 30 && !bye; i++) {
      const line = await client.readLine(15_000);
      if (/^\* OK Still here/.test(line)) heartbeats++;
      else if (/^\* BYE/.test(line)) bye = line;
    }
    const elapsed = Date.now() - t0;
    assert.match(bye, /^\* BYE .*idle/i);
    // Heartbeats were sent meanwhile, and did not keep the session.
    assert.ok(heartbeats >= 1, `heartbeats ${heartbeats}`);
    assert.ok(elapsed >= (TIMEOUT_S - 1) * 1000 && elapsed < (TIMEOUT_S + 8) * 1000, `BYE after ${elapsed} ms`);
    await assert.rejects(client.readLine(5000), /closed/);
  } finally {
    await srv.stop();
  }
});

test('finding 17: a client that keeps talking is not logged out', async () => {
  const srv = await startTestServer({ limits: { idleTimeoutSeconds: 2 } });
  try {
    await srv.addUser('talker', 'pw');
    const client = await RawClient.login(srv.imapsPort, 'talker', 'pw');
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      assert.match((await client.command(`n${i}`, 'NOOP')).tagged, new RegExp(`^n${i} OK`));
    }
    client.close();
  } finally {
    await srv.stop();
  }
});
