// test:pg skip — logging of failed TLS handshakes
/**
 * Finding 16 (issue 18): anyone can make TLS handshakes fail, after
 * STARTTLS/STLS or on the implicit-TLS ports. Each failure is logged at info,
 * without a stack, and at most limits.tls-failures-logged-per-minute lines a
 * minute; the rest are counted, never written one by one.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { startTestServer } from '../helpers/server.js';

/** Sends `first` (if any), then garbage where a ClientHello belongs, and waits for the server to close. */
async function badHandshake(port: number, first: string | null): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  if (first) {
    socket.write(first);
    // The go-ahead, then the garbage.
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  }
  socket.write('this is not a TLS ClientHello\r\n\r\n');
  const timer = setTimeout(() => socket.destroy(), 10_000);
  await closed;
  clearTimeout(timer);
}

/** Sends garbage straight to an implicit-TLS port (no greeting comes first). */
async function badImplicit(port: number): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write('GET / HTTP/1.0\r\n\r\n');
  const timer = setTimeout(() => socket.destroy(), 10_000);
  await closed;
  clearTimeout(timer);
}

test('finding 16: failed TLS handshakes are logged at info, without stacks, at most N a minute', async () => {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') records.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const PER_MINUTE = 4;
  const srv = await startTestServer({ log: { level: 'info' }, limits: { tlsFailuresLoggedPerMinute: PER_MINUTE } }, sink);
  try {
    const ATTEMPTS = 10;
    for (let i = 0; i < ATTEMPTS; i++) {
      await badHandshake(srv.imapPort, 'a STARTTLS\r\n');
      await badHandshake(srv.pop3Port, 'STLS\r\n');
      await badImplicit(srv.imapsPort);
      await badImplicit(srv.pop3sPort);
    }
    await new Promise((r) => setTimeout(r, 500));
    const tlsLines = records.filter((r) => /handshake/i.test(String(r.msg)));
    // Not vacuous: failures were logged, both kinds of them.
    assert.ok(tlsLines.length >= 1, 'no TLS failure logged at all');
    assert.ok(tlsLines.length <= PER_MINUTE + 1, `${tlsLines.length} lines for ${4 * ATTEMPTS} failures: ${JSON.stringify(tlsLines.map((r) => r.msg))}`);
    for (const r of tlsLines) {
      assert.equal(r.level, 30, `logged at level ${String(r.level)}: ${JSON.stringify(r)}`);
      assert.ok(!JSON.stringify(r).includes('    at '), `a stack in ${JSON.stringify(r)}`);
    }
    // Nothing else about these connections reached the error level.
    const errors = records.filter((r) => typeof r.level === 'number' && r.level >= 50);
    assert.deepEqual(errors, []);
  } finally {
    await srv.stop();
  }
});

test('refused connections are logged at warn, at most N a minute (they cost a peer nothing either)', async () => {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l !== '') records.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const PER_MINUTE = 3;
  const srv = await startTestServer({ log: { level: 'info' }, limits: { maxConnectionsPerIp: 1, refusalsLoggedPerMinute: PER_MINUTE } }, sink);
  const held = connect({ host: '127.0.0.1', port: srv.imapPort });
  held.on('error', () => undefined);
  try {
    await new Promise<void>((resolve) => held.once('data', () => resolve()));
    const REFUSED = 12;
    for (let i = 0; i < REFUSED; i++) {
      const socket = connect({ host: '127.0.0.1', port: srv.imapPort });
      socket.on('error', () => undefined);
      const line = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
      assert.match(line, /^\* BYE Too many connections from your address/);
      socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 300));
    const refusals = records.filter((r) => /Too many connections/.test(String(r.msg)));
    assert.equal(refusals.length, PER_MINUTE, 'one line each, up to the limit');
    assert.ok(
      refusals.every((r) => r.level === 40),
      'at warn',
    );
  } finally {
    held.destroy();
    await srv.stop();
  }
});
