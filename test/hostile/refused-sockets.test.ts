/**
 * Finding 3 (issue 18): a connection refused over the connection limits
 * gets its one line (`* BYE`, `-ERR`, LMTP 421) and is closed within a
 * short grace, even when the client neither reads nor closes: the server
 * keeps no file descriptor for it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort, spawnServer } from '../helpers/server.js';

/** Open file descriptors of a process (Linux). */
const fdsOf = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

/** Connects with half-open allowed (the client never ends its side) and collects what arrives. */
async function hold(port: number): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => undefined);
  let data = '';
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data };
}

async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return pred();
}

test('finding 3: refused sockets that never read or close are closed by the server within seconds', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mailkeep-hostile-'));
  const pop3Port = await freePort();
  const lmtpPort = await freePort();
  const srv = await spawnServer(dataDir, ['--log-level', 'info', '--pop3-port', String(pop3Port), '--lmtp-port', String(lmtpPort)], {
    ...process.env,
    MAILKEEP_LIMITS__MAX_CONNECTIONS_PER_IP: '2',
  });
  const pid = srv.child.pid!;
  const sockets: Socket[] = [];
  try {
    // Two admitted connections fill this address's share.
    for (let i = 0; i < 2; i++) {
      const c = await hold(srv.imapPort);
      sockets.push(c.socket);
      assert.ok(await until(() => c.received().startsWith('* OK'), 10_000));
    }
    await new Promise((r) => setTimeout(r, 500));
    const baseline = fdsOf(pid);

    const refused: Array<{ socket: Socket; received: () => string; expect: RegExp }> = [];
    for (const [port, expect] of [
      [srv.imapPort, /^\* BYE Too many connections/],
      [pop3Port, /^-ERR Too many connections/],
      [lmtpPort, /^421 4\.7\.0 Too many connections/],
    ] as const) {
      for (let i = 0; i < 15; i++) refused.push({ ...(await hold(port)), expect });
    }
    sockets.push(...refused.map((r) => r.socket));
    for (const r of refused) assert.ok(await until(() => r.expect.test(r.received()), 10_000), `refusal: ${JSON.stringify(r.received())}`);
    const t0 = Date.now();
    // The refused sockets are gone from the server within the grace (2 s) plus slack for a loaded machine.
    const released = await until(() => fdsOf(pid) <= baseline, 8000);
    assert.ok(released, `server still holds ${fdsOf(pid) - baseline} descriptors above its baseline ${baseline}`);
    console.log(`45 refused sockets released after ${Date.now() - t0} ms`);
    // The admitted connections are untouched.
    assert.ok(sockets.slice(0, 2).every((s) => !s.destroyed && s.readable));
  } finally {
    for (const s of sockets) s.destroy();
    srv.child.kill();
    await srv.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
});
