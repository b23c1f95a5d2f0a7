// test:pg skip — HTTP and HTTPS listeners, redirects and the ClientHello reader
/**
 * The HTTP and HTTPS listeners: plain HTTP redirects to HTTPS on the public
 * name and answers only pending ACME challenges; HTTPS serves the mail ports'
 * certificate; a taken web port is one log line and mail goes on; the
 * connection limits apply; the ClientHello reader finds the server name and
 * the ALPN protocols.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import { parseClientHello } from '../src/net/client-hello.js';
import { RawClient } from './helpers/raw-client.js';
import { freePort, startTestServer, type TestServer } from './helpers/server.js';

/** An HTTP/1.1 exchange on a raw socket: the whole response text (the server closes after it). */
async function rawHttp(port: number, request: string): Promise<string> {
  const socket = connectTcp({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  socket.end(request);
  let text = '';
  for await (const chunk of socket) text += (chunk as Buffer).toString('latin1');
  return text;
}

describe('web listeners', () => {
  let srv: TestServer;
  let httpPort: number;
  let httpsPort: number;
  before(async () => {
    srv = await startTestServer({ hostname: 'mail.example.test', httpPort: await freePort(), httpsPort: await freePort() });
    httpPort = srv.server.ports.http!;
    httpsPort = srv.server.ports.https!;
  });
  after(() => srv.stop());

  test('plain HTTP redirects everything else to HTTPS on the hostname, with path and query', async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/some/path?x=1&y=2`, { redirect: 'manual' });
    assert.equal(res.status, 301);
    assert.equal(res.headers.get('location'), `https://mail.example.test:${httpsPort}/some/path?x=1&y=2`);
    const post = await fetch(`http://127.0.0.1:${httpPort}/form`, { method: 'POST', body: 'a=b', redirect: 'manual' });
    assert.equal(post.status, 301);
  });

  test('an ACME challenge path with no pending challenge is 404, not a redirect', async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/.well-known/acme-challenge/not-pending`, { redirect: 'manual' });
    assert.equal(res.status, 404);
  });

  test('oversized headers are refused (431) and the listener goes on', async () => {
    const text = await rawHttp(httpPort, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`);
    assert.match(text, /^HTTP\/1\.1 431/);
    assert.equal((await fetch(`http://127.0.0.1:${httpPort}/`, { redirect: 'manual' })).status, 301);
  });

  test('HTTPS presents the certificate of the mail ports', async () => {
    const fingerprint = async (port: number): Promise<string> => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'mail.example.test', rejectUnauthorized: false });
      await once(socket, 'secureConnect');
      const fp = socket.getPeerX509Certificate()!.fingerprint256;
      socket.destroy();
      return fp;
    };
    assert.equal(await fingerprint(httpsPort), await fingerprint(srv.imapsPort));
  });
});

describe('web ports and limits', () => {
  let held: Server;
  let heldPort: number;
  before(async () => {
    held = createServer();
    held.listen(0, '127.0.0.1');
    await once(held, 'listening');
    heldPort = (held.address() as { port: number }).port;
  });
  after(() => held.close());

  test('a taken HTTP port is one log line naming the port and the setting; mail is served', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const srv = await startTestServer({ httpPort: heldPort, log: { level: 'warn' } }, sink);
    try {
      assert.equal(srv.server.ports.http, undefined);
      const about = lines.filter((l) => l.includes(`:${heldPort}`));
      assert.equal(about.length, 1, lines.join('\n'));
      assert.match(about[0]!, /address already in use.*http-port \(--http-port \/ MAILKEEP_HTTP_PORT\)/);
      await srv.addUser('u', 'pw');
      const c = await RawClient.login(srv.imapsPort, 'u', 'pw');
      assert.match((await c.command('s', 'SELECT INBOX')).tagged, /OK/);
      c.close();
    } finally {
      await srv.stop();
    }
  });

  test('connections over the per-address limit get a 503 on HTTP', async () => {
    const srv = await startTestServer({ httpPort: await freePort(), limits: { maxConnectionsPerIp: 1 } });
    try {
      const port = srv.server.ports.http!;
      const first = connectTcp({ host: '127.0.0.1', port });
      await once(first, 'connect');
      // The first connection is admitted once accepted; give the accept a moment before the second.
      await new Promise((r) => setTimeout(r, 200));
      const text = await rawHttp(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.match(text, /^HTTP\/1\.1 503 /);
      assert.match(text, /Too many connections from your address/);
      first.destroy();
    } finally {
      await srv.stop();
    }
  });
});

describe('ClientHello reading (RFC 8446 §4.1.2, RFC 6066 §3, RFC 7301 §3.1)', () => {
  /** A real ClientHello from Node's TLS client, captured on a plain TCP server. */
  async function capturedHello(options: { servername?: string; ALPNProtocols?: string[] }): Promise<Buffer> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const accepted = once(server, 'connection');
    const client = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    client.on('error', () => undefined);
    const [socket] = (await accepted) as [Socket];
    const [bytes] = (await once(socket, 'data')) as [Buffer];
    client.destroy();
    socket.destroy();
    server.close();
    return bytes;
  }

  test('server name and ALPN protocols are read; truncated or foreign bytes give null', async () => {
    const hello = await capturedHello({ servername: 'Mail.Example.Test', ALPNProtocols: ['h2', 'acme-tls/1'] });
    assert.deepEqual(parseClientHello(hello), { servername: 'mail.example.test', alpn: ['h2', 'acme-tls/1'] });
    assert.deepEqual(parseClientHello(await capturedHello({})), { servername: null, alpn: [] });
    assert.equal(parseClientHello(hello.subarray(0, 60)), null);
    assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')), null);
  });
});
