/**
 * The PROXY protocol parser (src/net/proxy-protocol.ts): every header form of
 * the HAProxy specification, every malformed case the receiver must reject,
 * input arriving a byte at a time, and the socket reader that hands the bytes
 * after the header back to the session.
 */
import assert from 'node:assert/strict';
import { connect, createServer, isIPv6, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseProxyHeader, readProxyHeader, V1_MAX_LENGTH, V2_SIGNATURE, type ProxyHeader, type ProxyParse } from '../src/net/proxy-protocol.js';

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A v2 header: version/command byte, family/transport byte and the block after the fixed part. */
function v2(verCmd: number, fam: number, body: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([V2_SIGNATURE, Buffer.from([verCmd, fam]), len, body]);
}

function port16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

const v4 = (a: string): Buffer => Buffer.from(a.split('.').map(Number));

/** 16 bytes of an IPv6 address in any text form (`::`, embedded IPv4). */
function v6(a: string): Buffer {
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  const text = dotted
    ? a.slice(0, -dotted[1]!.length) +
      v4(dotted[1]!)
        .toString('hex')
        .replace(/(....)(....)/, '$1:$2')
    : a;
  const [head = '', tail] = text.split('::');
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const t = groups(tail ?? '');
  const all = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(all.map((g) => port16(parseInt(g, 16))));
}

function tcp4(src: string, dst: string, sport: number, dport: number, tlvs = Buffer.alloc(0)): Buffer {
  return v2(0x21, 0x11, Buffer.concat([v4(src), v4(dst), port16(sport), port16(dport), tlvs]));
}

function tcp6(src: string, dst: string, sport: number, dport: number, tlvs = Buffer.alloc(0)): Buffer {
  return v2(0x21, 0x21, Buffer.concat([v6(src), v6(dst), port16(sport), port16(dport), tlvs]));
}

function complete(r: ProxyParse): ProxyHeader {
  assert.equal(r.status, 'complete', JSON.stringify(r));
  return (r as { header: ProxyHeader }).header;
}

function rejects(input: Buffer, reason: RegExp): void {
  const r = parseProxyHeader(input);
  assert.equal(r.status, 'invalid', `${JSON.stringify(input.toString('latin1'))} → ${JSON.stringify(r)}`);
  assert.match((r as { reason: string }).reason, reason);
}

/** Every proper prefix is incomplete and asks for at most the bytes the header has; the whole parses. */
function assertByteAtATime(wire: Buffer): ProxyHeader {
  for (let n = 0; n < wire.length; n++) {
    const r = parseProxyHeader(wire.subarray(0, n));
    assert.equal(r.status, 'incomplete', `prefix of ${n} bytes: ${JSON.stringify(r)}`);
    const need = (r as { need: number }).need;
    assert.ok(need > n && need <= wire.length, `prefix of ${n}: need ${need} of ${wire.length}`);
  }
  return complete(parseProxyHeader(wire));
}

describe('PROXY v1', () => {
  it('parses TCP4 and TCP6 lines and ignores what follows the CRLF', () => {
    const h = complete(parseProxyHeader(ascii('PROXY TCP4 192.0.2.10 198.51.100.1 56324 993\r\na1 LOGIN')));
    assert.deepEqual(h, {
      version: 1,
      command: 'proxy',
      source: { address: '192.0.2.10', port: 56324 },
      destination: { address: '198.51.100.1', port: 993 },
      length: 46,
    });
    const h6 = complete(parseProxyHeader(ascii('PROXY TCP6 2001:db8::7 ::ffff:10.0.0.1 0 65535\r\n')));
    assert.deepEqual(h6.source, { address: '2001:db8::7', port: 0 });
    assert.deepEqual(h6.destination, { address: '::ffff:10.0.0.1', port: 65535 });
  });

  it('UNKNOWN carries no address, whatever precedes the CRLF', () => {
    assert.deepEqual(complete(parseProxyHeader(ascii('PROXY UNKNOWN\r\n'))), { version: 1, command: 'proxy', source: null, destination: null, length: 15 });
    assert.equal(complete(parseProxyHeader(ascii('PROXY UNKNOWN whatever it likes\r\n'))).source, null);
  });

  it('accepts the longest line the spec allows (107 bytes) and nothing longer', () => {
    const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const longest = ascii(`PROXY UNKNOWN ${f} ${f} 65535 65535\r\n`);
    assert.equal(longest.length, V1_MAX_LENGTH);
    assert.equal(complete(parseProxyHeader(longest)).length, 107);
    rejects(ascii(`PROXY UNKNOWN ${f} ${f} 65535 655350\r\n`), /longer than 107/);
    // Without a CRLF the parser gives up at 107 bytes, not later.
    rejects(ascii(`PROXY UNKNOWN ${'x'.repeat(100)}`), /longer than 107/);
    assert.equal(parseProxyHeader(ascii(`PROXY UNKNOWN ${'x'.repeat(92)}`)).status, 'incomplete');
  });

  it('rejects every malformed line', () => {
    const cases: Array<[string, RegExp]> = [
      ['a1 LOGIN alice secret\r\n', /not a PROXY protocol header/],
      ['proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /not a PROXY protocol header/],
      ['PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n', /not a PROXY protocol header/],
      ['GET / HTTP/1.1\r\n', /not a PROXY protocol header/],
      ['PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', /unknown PROXY v1 protocol/],
      ['PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n', /unknown PROXY v1 protocol/],
      ['PROXY UNKNOWNX\r\n', /unknown PROXY v1 protocol/],
      ['PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /unknown PROXY v1 protocol/],
      ['PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', /exactly four fields/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', /exactly four fields/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /exactly four fields/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', /exactly four fields/],
      ['PROXY TCP4\r\n', /exactly four fields/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8\t1 2\r\n', /exactly four fields/],
      ['PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n', /not IPv4/],
      ['PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n', /not IPv4/],
      ['PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', /not IPv4/],
      ['PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', /not IPv4/],
      ['PROXY TCP4 example.org 5.6.7.8 1 2\r\n', /not IPv4/],
      ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', /not IPv6/],
      ['PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', /not IPv6/],
      ['PROXY TCP6 ::1 :::1 1 2\r\n', /not IPv6/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /port/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n', /port/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', /port/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n', /port/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 0x10\r\n', /port/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /CRLF/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', /CRLF/],
      ['PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n', /CRLF/],
      ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n', /port/],
    ];
    for (const [line, reason] of cases) rejects(ascii(line), reason);
  });

  it('a header split anywhere is incomplete until its CRLF', () => {
    assertByteAtATime(ascii('PROXY TCP6 2001:db8:0:1::42 2001:db8::1 51000 143\r\n'));
    assertByteAtATime(ascii('PROXY UNKNOWN\r\n'));
  });

  it('garbage is refused at the first byte that cannot start a header', () => {
    rejects(ascii('a'), /not a PROXY/);
    rejects(ascii('PROX!'), /not a PROXY/);
    rejects(ascii('\r\n\r\n\0\r\nQUIT!'), /not a PROXY/);
    assert.equal(parseProxyHeader(ascii('PROX')).status, 'incomplete');
  });
});

describe('PROXY v2', () => {
  it('parses TCP over IPv4 and IPv6, skipping TLVs, and stops at the header end', () => {
    const tlvs = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x00]); // ALPN "h2", NOOP
    const wire = Buffer.concat([tcp4('192.0.2.44', '10.1.2.3', 40000, 993, tlvs), ascii('\x16\x03\x01')]);
    assert.deepEqual(complete(parseProxyHeader(wire)), {
      version: 2,
      command: 'proxy',
      source: { address: '192.0.2.44', port: 40000 },
      destination: { address: '10.1.2.3', port: 993 },
      length: 16 + 12 + tlvs.length,
    });
    const h6 = complete(parseProxyHeader(tcp6('2001:db8:0:0:1:0:0:1', '2001:db8::1', 1, 143)));
    assert.deepEqual(h6.source, { address: '2001:db8::1:0:0:1', port: 1 });
    assert.deepEqual(h6.destination, { address: '2001:db8::1', port: 143 });
    assert.equal(h6.length, 16 + 36);
    // IPv4-mapped addresses keep the dotted form Node itself reports.
    assert.equal(complete(parseProxyHeader(tcp6('::ffff:192.0.2.1', '::1', 1, 2))).source?.address, '::ffff:192.0.2.1');
  });

  it('LOCAL is the proxy itself: family and address block are ignored', () => {
    assert.deepEqual(complete(parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0)))), {
      version: 2,
      command: 'local',
      source: null,
      destination: null,
      length: 16,
    });
    // "the receiver must ... discard the protocol block including the family"
    assert.equal(complete(parseProxyHeader(v2(0x20, 0x7f, Buffer.alloc(5)))).command, 'local');
  });

  it('AF_UNSPEC and AF_UNIX proxied connections carry no client address', () => {
    assert.equal(complete(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(0)))).source, null);
    assert.equal(complete(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216)))).source, null);
  });

  it('rejects every malformed header', () => {
    const ok = tcp4('1.2.3.4', '5.6.7.8', 1, 2);
    const withByte = (at: number, value: number): Buffer => {
      const b = Buffer.from(ok);
      b[at] = value;
      return b;
    };
    rejects(withByte(12, 0x11), /version 1/);
    rejects(withByte(12, 0x31), /version 3/);
    rejects(withByte(12, 0x01), /version 0/);
    for (const cmd of [2, 3, 0xf]) rejects(withByte(12, 0x20 | cmd), /unknown command/);
    for (const fam of [0x12, 0x22, 0x32]) rejects(v2(0x21, fam, Buffer.alloc(216)), /datagram/);
    for (const fam of [0x01, 0x10, 0x13, 0x20, 0x30, 0x41, 0xff]) rejects(v2(0x21, fam, Buffer.alloc(216)), /unknown address family/);
    rejects(v2(0x21, 0x11, Buffer.alloc(11)), /IPv4 address block shorter/);
    rejects(v2(0x21, 0x21, Buffer.alloc(35)), /IPv6 address block shorter/);
    rejects(v2(0x21, 0x31, Buffer.alloc(215)), /UNIX address block shorter/);
    for (let i = 0; i < 12; i++) rejects(withByte(i, ok[i]! ^ 0x40), /not a PROXY/);
  });

  it('a header split anywhere is incomplete until its last byte, without asking for more', () => {
    assertByteAtATime(tcp4('203.0.113.9', '10.0.0.1', 65535, 110, Buffer.alloc(40, 4)));
    assertByteAtATime(tcp6('2001:db8::9', '::1', 7, 995));
    assertByteAtATime(v2(0x20, 0x00, Buffer.alloc(0)));
  });

  it('round trip: any address and port comes back as sent, in canonical text form', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.nat(200),
        (a6, a4, port, tlvs, cut) => {
          const src6 = Buffer.from(a6);
          const wire6 = v2(0x21, 0x21, Buffer.concat([src6, Buffer.alloc(16), port16(port), port16(port), Buffer.from(tlvs)]));
          const h6 = complete(parseProxyHeader(wire6));
          const text = h6.source!.address;
          assert.ok(isIPv6(text), text);
          assert.deepEqual(v6(text), src6);
          if (!text.startsWith('::ffff:') || text.includes(':', 7)) assert.equal(`[${text}]`, new URL(`http://[${text}]/`).hostname);
          assert.equal(h6.source!.port, port);
          const src4 = [...a4].join('.');
          const h4 = complete(parseProxyHeader(tcp4(src4, '0.0.0.0', port, 0, Buffer.from(tlvs))));
          assert.equal(h4.source!.address, src4);
          // The same header in v1 text gives the same client.
          const line = ascii(`PROXY TCP4 ${src4} 0.0.0.0 ${port} 0\r\n`);
          assert.deepEqual(complete(parseProxyHeader(line)).source, h4.source);
          // A prefix of either form is never mistaken for a complete or invalid header.
          assert.equal(parseProxyHeader(wire6.subarray(0, cut % wire6.length)).status, 'incomplete');
          assert.equal(parseProxyHeader(line.subarray(0, cut % line.length)).status, 'incomplete');
        },
      ),
    );
  });
});

describe('readProxyHeader on a socket', () => {
  /** A connected pair: `client` writes, `server` is what the listener accepted. */
  async function pair(): Promise<{ client: Socket; server: Socket; close(): void }> {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const accepted = new Promise<Socket>((r) => srv.once('connection', r));
    const client = connect((srv.address() as { port: number }).port, '127.0.0.1');
    client.setNoDelay(true);
    const server = await accepted;
    return {
      client,
      server,
      close() {
        client.destroy();
        server.destroy();
        srv.close();
      },
    };
  }

  it('reads a header sent a byte at a time and leaves the following bytes to the session', async () => {
    const p = await pair();
    try {
      const wire = Buffer.concat([tcp4('192.0.2.1', '127.0.0.1', 5000, 143), ascii('a1 NOOP\r\n')]);
      const reading = readProxyHeader(p.server, 2000);
      for (const byte of wire.subarray(0, 20)) {
        p.client.write(Buffer.from([byte]));
        await new Promise((r) => setTimeout(r, 2));
      }
      p.client.write(wire.subarray(20));
      const header = await reading;
      assert.deepEqual(header.source, { address: '192.0.2.1', port: 5000 });
      // A 'data' listener attached afterwards gets exactly the rest, as a session would.
      const rest: Buffer[] = [];
      p.server.on('data', (d: Buffer) => rest.push(d));
      p.client.write('a2 LOGOUT\r\n');
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(Buffer.concat(rest).toString(), 'a1 NOOP\r\na2 LOGOUT\r\n');
    } finally {
      p.close();
    }
  });

  it('fails on garbage, on a peer that closes, and on a peer that stays silent', async () => {
    const garbage = await pair();
    const closes = await pair();
    const silent = await pair();
    try {
      garbage.client.write('a1 LOGIN alice secret\r\n');
      closes.client.end('PROXY TCP4 1.2.3.4');
      const t0 = Date.now();
      const [g, c, s] = await Promise.allSettled([
        readProxyHeader(garbage.server, 2000),
        readProxyHeader(closes.server, 2000),
        readProxyHeader(silent.server, 200),
      ]);
      assert.match(String((g as PromiseRejectedResult).reason), /not a PROXY protocol header/);
      assert.match(String((c as PromiseRejectedResult).reason), /closed before a complete PROXY header/);
      assert.match(String((s as PromiseRejectedResult).reason), /no PROXY header within 200 ms/);
      assert.ok(Date.now() - t0 >= 190);
    } finally {
      for (const p of [garbage, closes, silent]) p.close();
    }
  });
});
