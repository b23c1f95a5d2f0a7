// test:pg skip — PROXY protocol headers and the client address they announce (the throttle ledger is in memory)
/**
 * The PROXY protocol on real listeners: a stand-in load balancer on loopback
 * prepends v1 or v2 headers, and the server must treat the announced client
 * as the client — for connection caps, login throttling, the plaintext-login
 * policy and the logs — on plain, implicit-TLS, POP3 and LMTP listeners,
 * while refusing untrusted peers, garbage and silence, and ignoring PROXY on
 * listeners where it is not enabled.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ConfigError, formatConfigError, loadConfig } from '../src/config/load.js';
import { V2_SIGNATURE } from '../src/net/proxy-protocol.js';
import { RawClient } from './helpers/raw-client.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { BufferedSocket } from './helpers/socket-buffer.js';

const v1 = (src: string, dport: number): Buffer =>
  Buffer.from(`PROXY ${src.includes(':') ? 'TCP6' : 'TCP4'} ${src} ${src.includes(':') ? '::1' : '127.0.0.1'} 40000 ${dport}\r\n`);

/** v2 PROXY over TCP/IPv6 from `src` (full 16 bytes as hex), or LOCAL when src is null; with one NOOP TLV to skip. */
function v2(src: Buffer | null): Buffer {
  const tlv = Buffer.from([0x04, 0x00, 0x03, 0, 0, 0]);
  const body = src === null ? Buffer.alloc(0) : Buffer.concat([src, Buffer.alloc(15), Buffer.from([1]), Buffer.from([0x9c, 0x40, 0x03, 0xe1]), tlv]);
  const head = Buffer.from([src === null ? 0x20 : 0x21, src === null ? 0x00 : 0x21, body.length >> 8, body.length & 0xff]);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}

/** 2001:db8::5 */
const CLIENT6 = Buffer.from('20010db8000000000000000000000005', 'hex');

interface Relay {
  port: number;
  close(): void;
}

/**
 * A stand-in for HAProxy: accepts on 127.0.0.1, connects to `target` (from
 * `localAddress`), sends `header` and relays both ways. With `coalesce` it
 * holds the header until the client's first bytes and sends both in one
 * write, as a proxy may.
 */
async function relay(target: number, header: Buffer, opts: { coalesce?: boolean; localAddress?: string } = {}): Promise<Relay> {
  const open = new Set<Socket>();
  const srv = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: target, localAddress: opts.localAddress ?? '127.0.0.1' });
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        open.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.pipe(client);
    if (opts.coalesce) {
      client.once('data', (first: Buffer) => {
        upstream.write(Buffer.concat([header, first]));
        client.pipe(upstream);
      });
    } else {
      upstream.write(header);
      client.pipe(upstream);
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    close() {
      for (const s of open) s.destroy();
      srv.close();
    },
  };
}

/** Server log lines as parsed JSON. */
class LogLines extends Writable {
  readonly lines: Array<Record<string, unknown>> = [];
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    for (const l of chunk.toString().split('\n')) if (l.trim() !== '') this.lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  }
  /** Waits until a line matches. */
  async find(pred: (l: Record<string, unknown>) => boolean, timeoutMs = 3000): Promise<Record<string, unknown>> {
    await this.count(pred, 1, timeoutMs);
    return this.lines.find(pred)!;
  }
  /** Waits until `n` lines match. */
  async count(pred: (l: Record<string, unknown>) => boolean, n: number, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.filter(pred).length < n) {
      if (Date.now() > deadline) throw new Error(`fewer than ${n} such log lines in:\n${this.lines.map((l) => JSON.stringify(l)).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('PROXY protocol listeners', () => {
  let srv: TestServer;
  const log = new LogLines();
  const relays: Relay[] = [];
  const via = async (target: number, header: Buffer, opts?: Parameters<typeof relay>[2]): Promise<number> => {
    const r = await relay(target, header, opts);
    relays.push(r);
    return r.port;
  };

  before(async () => {
    srv = await startTestServer(
      {
        proxy: { listeners: ['imap', 'imaps', 'pop3', 'lmtp'], trusted: ['127.0.0.1'], headerTimeoutSeconds: 1 },
        limits: { maxConnectionsPerIp: 1 },
        // Plaintext LOGIN is allowed from this network only: the proxied address must decide.
        plaintextAuth: { trustedNetworks: ['192.0.2.0/24'] },
        authThrottle: { freeFailures: 5, baseDelayMs: 0, maxDelayMs: 0, maxFailuresPerIp: 2, maxFailuresPerAccount: 100 },
        log: { level: 'info' },
      },
      log,
    );
    await srv.addUser('alice', 'secret');
  });

  after(async () => {
    for (const r of relays) r.close();
    await srv.stop();
  });

  it('v1 on the IMAP port: caps, throttling, plaintext policy and logs see the proxied client', async () => {
    // Both connections come from 127.0.0.1 and the cap is 1 per address: only the proxied addresses tell them apart.
    const a = await RawClient.connect(await via(srv.imapPort, v1('192.0.2.1', 143)));
    const b = await RawClient.connect(await via(srv.imapPort, v1('192.0.2.2', 143)));
    assert.match(a.greeting, /^\* OK/);
    assert.match(b.greeting, /^\* OK/);
    const again = await RawClient.connect(await via(srv.imapPort, v1('192.0.2.1', 143)));
    assert.match(again.greeting, /^\* BYE Too many connections from your address/);
    await log.find((l) => l.msg === 'connect' && l.remote === '192.0.2.1');
    await log.find((l) => l.msg === 'connect' && l.remote === '192.0.2.2');
    await log.find((l) => l.remote === '192.0.2.1' && /Too many connections/.test(String(l.msg)));

    // 192.0.2.1 may log in without TLS (trusted network), and its failures count against 192.0.2.1 alone.
    assert.match((await a.client.command('f1', 'LOGIN alice wrong')).tagged, /^f1 NO \[AUTHENTICATIONFAILED\]/);
    assert.match((await a.client.command('f2', 'LOGIN alice wrong')).tagged, /^f2 NO \[AUTHENTICATIONFAILED\]/);
    assert.match((await a.client.command('f3', 'LOGIN alice secret')).tagged, /^f3 NO \[UNAVAILABLE\]/);
    assert.match((await b.client.command('ok', 'LOGIN alice secret')).tagged, /^ok OK/);

    // Outside the trusted network the same proxy's client must use TLS.
    const c = await RawClient.connect(await via(srv.imapPort, v1('198.51.100.7', 143)));
    assert.match((await c.client.command('p', 'LOGIN alice secret')).tagged, /^p NO \[PRIVACYREQUIRED\]/);
    for (const x of [a, b, again, c]) x.client.close();
  });

  it('bytes sent right after the header are the first command', async () => {
    const s = await BufferedSocket.connect(srv.imapPort);
    s.send(Buffer.concat([v1('192.0.2.30', 143), Buffer.from('a1 CAPABILITY\r\n')]));
    await s.waitFor(() => s.buf.includes('a1 OK'), 3000);
    assert.match(s.buf.toString(), /^\* OK[^\r]*\r\n\* CAPABILITY [^\r]*\r\na1 OK/);
    s.close();
    await log.find((l) => l.msg === 'connect' && l.remote === '192.0.2.30');
  });

  it('v2 before the TLS handshake on the implicit-TLS port, sent alone or with the ClientHello', async () => {
    for (const coalesce of [false, true]) {
      const { client, greeting } = await RawClient.connect(await via(srv.imapsPort, v2(CLIENT6), { coalesce }), { tls: true });
      assert.match(greeting, /^\* OK/);
      assert.match((await client.command('l', 'LOGIN alice secret')).tagged, /^l OK/);
      assert.match((await client.command('s', 'SELECT INBOX')).tagged, /^s OK/);
      // Close before the next round: the cap is one connection per /64.
      client.close();
      await log.count((l) => l.msg === 'disconnect' && l.remote === '2001:db8::5', coalesce ? 2 : 1);
      await new Promise((r) => setTimeout(r, 50));
    }
    const tlsConnects = log.lines.filter((l) => l.msg === 'connect' && l.remote === '2001:db8::5' && l.tls === true);
    assert.equal(tlsConnects.length, 2);
  });

  it('LOCAL (a health check) is served as the proxy itself', async () => {
    const { client, greeting } = await RawClient.connect(await via(srv.imapPort, v2(null)));
    assert.match(greeting, /^\* OK/);
    assert.match((await client.command('p', 'LOGIN alice secret')).tagged, /^p NO \[PRIVACYREQUIRED\]/);
    client.close();
    await log.find((l) => l.msg === 'connect' && l.remote === '127.0.0.1' && l.tls === false);
  });

  it('POP3 and LMTP sessions see the proxied client too', async () => {
    const pop = await BufferedSocket.connect(await via(srv.pop3Port, v1('203.0.113.9', 110)));
    await pop.waitFor(() => pop.buf.includes('\r\n'), 3000);
    assert.match(pop.buf.toString(), /^\+OK/);
    await log.find((l) => l.msg === 'connect' && l.protocol === 'pop3' && l.remote === '203.0.113.9');
    const lmtp = await BufferedSocket.connect(await via(srv.lmtpPort, v1('2001:db8::77', 24)));
    await lmtp.waitFor(() => lmtp.buf.includes('\r\n'), 3000);
    assert.match(lmtp.buf.toString(), /^220 /);
    await log.find((l) => l.msg === 'connect' && l.protocol === 'lmtp' && l.remote === '2001:db8::77');
    pop.close();
    lmtp.close();
  });

  it('an untrusted peer is closed unheard, even with a valid header', async () => {
    // 127.0.0.2 is loopback but not in proxy.trusted.
    const port = await via(srv.imapPort, v1('192.0.2.40', 143), { localAddress: '127.0.0.2' });
    const s = await BufferedSocket.connect(port);
    assert.equal(await s.waitClosed(3000), true);
    assert.equal(s.buf.length, 0);
    await log.find((l) => l.peer === '127.0.0.2' && /not in proxy\.trusted/.test(String(l.msg)));
    assert.ok(!log.lines.some((l) => l.remote === '192.0.2.40'));
  });

  it('a connection without a valid header is closed, whether it sends garbage or nothing', async () => {
    const garbage = await BufferedSocket.connect(srv.imapPort);
    garbage.send('a1 LOGIN alice secret\r\n');
    assert.equal(await garbage.waitClosed(3000), true);
    assert.equal(garbage.buf.length, 0);
    await log.find((l) => l.reason === 'not a PROXY protocol header' && l.msg === 'refused: no valid PROXY header');

    const broken = await BufferedSocket.connect(srv.imapsPort);
    broken.send('PROXY TCP4 192.0.2.1 127.0.0.1 99999 993\r\n');
    assert.equal(await broken.waitClosed(3000), true);
    await log.find((l) => /port/.test(String(l.reason)) && l.listener === 'imaps');

    const silent = await BufferedSocket.connect(srv.imapPort);
    const t0 = Date.now();
    assert.equal(await silent.waitClosed(3000), true);
    assert.ok(Date.now() - t0 >= 900, 'closed after the 1 s header timeout');
    assert.equal(silent.buf.length, 0);
    await log.find((l) => /no PROXY header within 1000 ms/.test(String(l.reason)));
  });

  it('where PROXY is not enabled, a PROXY line is an ordinary bad command', async () => {
    const s = await BufferedSocket.connect(srv.pop3sPort, { tls: true });
    await s.waitFor(() => s.buf.includes('\r\n'), 3000);
    s.send(v1('192.0.2.50', 995));
    await s.waitFor(() => s.buf.toString().split('\r\n').length >= 3, 3000);
    assert.match(s.buf.toString(), /^\+OK[^\r]*\r\n-ERR/);
    s.close();
    await log.find((l) => l.msg === 'connect' && l.protocol === 'pop3' && l.remote === '127.0.0.1' && l.tls === true);
    assert.ok(!log.lines.some((l) => l.remote === '192.0.2.50'));
  });
});

describe('PROXY configuration', () => {
  const problems = (opts: Parameters<typeof loadConfig>[0]): string => {
    try {
      loadConfig(opts);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return formatConfigError(err);
    }
    return assert.fail('accepted');
  };

  it('is off by default and set from the environment or flags', () => {
    assert.deepEqual(loadConfig({ env: {} }).proxy, { listeners: [], trusted: [], headerTimeoutSeconds: 5 });
    const fromEnv = loadConfig({
      env: { MAILKEEP_PROXY__LISTENERS: 'imaps, pop3s', MAILKEEP_PROXY__TRUSTED: '10.0.0.0/8,fd00::/8', MAILKEEP_PROXY__HEADER_TIMEOUT_SECONDS: '3' },
    });
    assert.deepEqual(fromEnv.proxy, { listeners: ['imaps', 'pop3s'], trusted: ['10.0.0.0/8', 'fd00::/8'], headerTimeoutSeconds: 3 });
    const fromFlags = loadConfig({ env: {}, flags: { proxyListeners: 'lmtp', proxyTrusted: '127.0.0.1' } });
    assert.deepEqual(fromFlags.proxy.listeners, ['lmtp']);
    assert.deepEqual(fromFlags.proxy.trusted, ['127.0.0.1']);
  });

  it('refuses listeners without trusted proxies, unknown listeners and bad networks', () => {
    assert.match(problems({ env: { MAILKEEP_PROXY__LISTENERS: 'imap' } }), /proxy\.listeners .*proxy\.trusted must list/);
    assert.match(
      problems({ env: {}, flags: { proxyListeners: 'smtp', proxyTrusted: '10.0.0.0/8' } }),
      /proxy\.listeners\[0\] \(from --proxy-listeners\): expected a list of listeners from imap, imaps, pop3, pop3s, lmtp/,
    );
    assert.match(problems({ env: { MAILKEEP_PROXY__LISTENERS: 'imap', MAILKEEP_PROXY__TRUSTED: '10.0.0.0/33' } }), /proxy\.trusted\[0\] .*expected a network/);
  });
});
