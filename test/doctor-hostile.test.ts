/**
 * `mailkeep doctor` against misbehaving servers (small fakes on loopback):
 * it must end within its timeouts and buffer limits, and say what it saw —
 * a line that never ends, a flood of lines, silence, a plaintext-only IMAP
 * server, another protocol on the port, and RFC 5530 login codes from a
 * server that sends them (PRIVACYREQUIRED, UNAVAILABLE) or only text.
 */
import { strict as assert } from 'node:assert';
import { createServer, type Server, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import type { Proto } from '../src/doctor/check.js';
import { runDoctor } from '../src/doctor/doctor.js';
import { classifyRefusal } from '../src/doctor/login-outcome.js';
import { renderText } from '../src/doctor/render.js';

const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

/** A loopback server running `behave` on each connection; resolves to its port. */
async function fake(behave: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    behave(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function doctor(proto: Proto, port: number, withLogin = false): Promise<string> {
  const started = Date.now();
  const report = await runDoctor({
    target: { kind: 'host', host: '127.0.0.1' },
    ports: [{ proto, port }],
    credentials: withLogin ? { user: 'alice', password: 'secret' } : null,
    ca: null,
    dnsServer: null,
    timeoutMs: 5000,
  });
  assert.ok(Date.now() - started < 60_000, 'bounded by the step timeouts');
  return renderText(report);
}

describe('mailkeep doctor against hostile or odd servers', () => {
  it('a line that never ends is cut off at 8 KiB', async () => {
    const port = await fake((s) => {
      const chunk = Buffer.alloc(4096, 'x');
      const pump = (): void => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    });
    assert.match(await doctor('imap', port), /✗ port \d+: the server sent a line longer than 8192 bytes/);
  });

  it('a flood of short lines is cut off', async () => {
    const port = await fake((s) => {
      s.write('* OK hello\r\n');
      const chunk = Buffer.from('* 1 EXISTS\r\n'.repeat(1000));
      const pump = (): void => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', pump);
      };
      s.once('data', pump);
    });
    assert.match(await doctor('imap', port), /✗ port \d+: (the server sent more than 65536 bytes unasked|more than 200 lines before the answer to CAPABILITY)/);
  });

  it('silence after connect: timed out, with the hint about implicit TLS', async () => {
    const port = await fake(() => {});
    const text = await doctor('imap', port);
    assert.match(text, /✗ port \d+: no answer within 5 s\n {4}→ No IMAP greeting on port \d+: if this port expects TLS from the start, use --port imaps:\d+/);
  });

  it('a plaintext-only IMAP server: no STARTTLS, passwords in clear', async () => {
    const port = await fake((s) => s.write('* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plain server\r\n'));
    assert.match(await doctor('imap', port), /✗ port \d+ offers no STARTTLS: passwords would travel in clear/);
  });

  it('another protocol on the port', async () => {
    const port = await fake((s) => s.write('220 smtp.example ESMTP\r\n'));
    assert.match(await doctor('pop3', port), /✗ greeting: not POP3: 220 smtp.example ESMTP\n {4}→ Port \d+ speaks another protocol/);
  });

  it('a plain server on an implicit-TLS port: the handshake fails, with the STARTTLS hint', async () => {
    const port = await fake((s) => s.end('* OK plain\r\n'));
    assert.match(await doctor('imaps', port), /→ Port \d+ does not speak TLS from the start: if it is a STARTTLS port, use --port imap:\d+/);
  });

  it('login refusals are told apart by RFC 5530 / RFC 3206 codes, then by text', () => {
    assert.equal(classifyRefusal('AUTHENTICATIONFAILED', 'Authentication failed'), 'wrong-password');
    assert.equal(classifyRefusal('PRIVACYREQUIRED', 'Use TLS'), 'privacy-required');
    assert.equal(classifyRefusal('UNAVAILABLE', 'Too many failed logins; try again later'), 'throttled');
    assert.equal(classifyRefusal('SYS/TEMP', 'Too many failed logins'), 'throttled');
    assert.equal(classifyRefusal('AUTH', 'Plaintext authentication disallowed on non-secure connections'), 'privacy-required');
    assert.equal(classifyRefusal('AUTH', 'Authentication failed.'), 'wrong-password');
    assert.equal(classifyRefusal(null, 'Invalid credentials'), 'wrong-password');
    assert.equal(classifyRefusal(null, 'Rate limit exceeded, try again later'), 'throttled');
    assert.equal(classifyRefusal(null, 'Go away'), 'refused');
  });
});
