/**
 * The PROXY protocol (HAProxy, versions 1 and 2): a load balancer in front of
 * mailkeep announces the real client address in a header it sends before any
 * protocol byte. https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 *
 * Invariants: the parser does no I/O and never reads past the header, so the
 * bytes after it belong to the session (or the TLS handshake); it buffers at
 * most one header (107 bytes for v1, 16 + 65535 for v2); anything that is not
 * a well-formed header is an error, never "no header" — a listener that
 * expects PROXY must not fall back to the socket address.
 */
import { isIPv4, isIPv6, type Socket } from 'node:net';

/** An address and port as announced by the proxy. */
export interface ProxyEndpoint {
  address: string;
  port: number;
}

/** A parsed header. */
export interface ProxyHeader {
  version: 1 | 2;
  /** 'local': the proxy's own connection (health check); use the socket's address (§2.2). */
  command: 'local' | 'proxy';
  /** The client; null when the proxy did not know it (v1 UNKNOWN, v2 AF_UNSPEC or AF_UNIX, or LOCAL). */
  source: ProxyEndpoint | null;
  /** The address the client connected to; null like source. */
  destination: ProxyEndpoint | null;
  /** Header length in bytes: what follows belongs to the session. */
  length: number;
}

/** Outcome of parsing the bytes received so far. */
export type ProxyParse =
  | { status: 'complete'; header: ProxyHeader }
  /** `need`: total bytes that must be buffered before parsing again can make progress. */
  | { status: 'incomplete'; need: number }
  | { status: 'invalid'; reason: string };

/** §2.1: "the maximum line length is 107 bytes", CRLF included. */
export const V1_MAX_LENGTH = 107;
const V1_PREFIX = Buffer.from('PROXY ');
/** §2.2: the 12-byte v2 signature. */
export const V2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');
const V2_FIXED = 16;

const invalid = (reason: string): ProxyParse => ({ status: 'invalid', reason });

/** Whether `buf` starts like `prefix` as far as both go. */
function agreesWith(buf: Uint8Array, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return prefix.subarray(0, n).equals(buf.subarray(0, n));
}

/** Parses a PROXY header (v1 or v2) at the start of `buf`. */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (buf.length === 0) return { status: 'incomplete', need: 1 };
  if (agreesWith(buf, V2_SIGNATURE)) return parseV2(buf);
  if (agreesWith(buf, V1_PREFIX)) return parseV1(buf);
  return invalid('not a PROXY protocol header');
}

// §2.1 — "PROXY" SP ( "TCP4" | "TCP6" | "UNKNOWN" ) [SP src SP dst SP sport SP dport] CRLF
function parseV1(buf: Buffer): ProxyParse {
  const head = buf.subarray(0, V1_MAX_LENGTH);
  const end = head.indexOf(0x0d);
  const lf = head.indexOf(0x0a);
  if (lf >= 0 && (end < 0 || lf < end)) return invalid('PROXY v1 line not ended by CRLF');
  if (end < 0 || end + 1 >= head.length) {
    if (head.length >= V1_MAX_LENGTH) return invalid('PROXY v1 line longer than 107 bytes');
    return { status: 'incomplete', need: buf.length + 1 };
  }
  if (head[end + 1] !== 0x0a) return invalid('PROXY v1 line not ended by CRLF');
  const length = end + 2;
  const line = buf.toString('latin1', V1_PREFIX.length, end);
  const fields = line.split(' ');
  const proto = fields[0];
  // §2.1: with UNKNOWN "the receiver must ignore anything presented before the CRLF".
  if (proto === 'UNKNOWN') return { status: 'complete', header: { version: 1, command: 'proxy', source: null, destination: null, length } };
  if (proto !== 'TCP4' && proto !== 'TCP6') return invalid(`unknown PROXY v1 protocol ${JSON.stringify(proto?.slice(0, 10))}`);
  if (fields.length !== 5) return invalid('PROXY v1 line needs exactly four fields after the protocol, separated by single spaces');
  const [, src = '', dst = '', sport = '', dport = ''] = fields;
  // No zone index (fe80::1%eth0): it means nothing beyond the proxy's host.
  const isFamily = proto === 'TCP4' ? isIPv4 : (a: string) => isIPv6(a) && !a.includes('%');
  if (!isFamily(src) || !isFamily(dst)) return invalid(`PROXY v1 address is not ${proto === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  const sourcePort = v1Port(sport);
  const destinationPort = v1Port(dport);
  if (sourcePort === null || destinationPort === null) return invalid('PROXY v1 port is not a number 0-65535');
  return {
    status: 'complete',
    header: { version: 1, command: 'proxy', source: { address: src, port: sourcePort }, destination: { address: dst, port: destinationPort }, length },
  };
}

/** §2.1: decimal 0-65535, no leading zeroes. */
function v1Port(text: string): number | null {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

// §2.2 — signature(12) ver_cmd(1) fam(1) len(2, network order) addresses TLVs.
// The TLVs (§2.2.1) after the address block are skipped: mailkeep uses none of them.
function parseV2(buf: Buffer): ProxyParse {
  if (buf.length < V2_FIXED) return { status: 'incomplete', need: V2_FIXED };
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return invalid(`PROXY v2 header with version ${verCmd >> 4}`);
  const cmd = verCmd & 0x0f;
  // "Receivers must drop connections presenting unexpected values here."
  if (cmd > 1) return invalid(`PROXY v2 header with unknown command ${cmd}`);
  const fam = buf[13]!;
  const bodyLength = buf.readUInt16BE(14);
  const length = V2_FIXED + bodyLength;
  if (buf.length < length) return { status: 'incomplete', need: length };
  // §2.2: with LOCAL "the receiver must accept this connection as valid and must use the real
  // connection endpoints and discard the protocol block including the family".
  if (cmd === 0) return { status: 'complete', header: { version: 2, command: 'local', source: null, destination: null, length } };
  const body = buf.subarray(V2_FIXED, length);
  switch (fam) {
    case 0x00: // AF_UNSPEC: the proxy does not know the client; the address block is ignored.
    case 0x31: // AF_UNIX stream: the client has no IP address.
      if (fam === 0x31 && bodyLength < 216) return invalid('PROXY v2 UNIX address block shorter than 216 bytes');
      return { status: 'complete', header: { version: 2, command: 'proxy', source: null, destination: null, length } };
    case 0x11: // TCP over IPv4: src(4) dst(4) sport(2) dport(2)
    case 0x21: {
      // TCP over IPv6: src(16) dst(16) sport(2) dport(2)
      const [name, size, read] = fam === 0x11 ? (['IPv4', 4, ipv4] as const) : (['IPv6', 16, ipv6] as const);
      if (bodyLength < 2 * size + 4) return invalid(`PROXY v2 ${name} address block shorter than ${2 * size + 4} bytes`);
      return {
        status: 'complete',
        header: {
          version: 2,
          command: 'proxy',
          source: { address: read(body.subarray(0, size)), port: body.readUInt16BE(2 * size) },
          destination: { address: read(body.subarray(size, 2 * size)), port: body.readUInt16BE(2 * size + 2) },
          length,
        },
      };
    }
    case 0x12:
    case 0x22:
    case 0x32:
      return invalid('PROXY v2 header for a datagram connection');
    default:
      // "Other values are unspecified and must not be emitted ... and must be rejected as invalid by receivers."
      return invalid(`PROXY v2 header with unknown address family/transport 0x${fam.toString(16).padStart(2, '0')}`);
  }
}

function ipv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** Compressed text form (RFC 5952), the form Node reports for socket addresses. */
function ipv6(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  // IPv4-mapped (::ffff:a.b.c.d) keeps its dotted tail, as Node prints it.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${ipv4(b.subarray(12, 16))}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * Reads a PROXY header from a freshly accepted socket, before anything else
 * touches it. Resolves with the header once complete; the bytes that came
 * after it are pushed back into the socket (unshift), so the session or a TLS
 * handshake reads them first. Rejects with an Error saying why when the header
 * is malformed, the peer closes, or no header arrives within `timeoutMs`; the
 * caller closes the socket.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise<ProxyHeader>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let buffered = 0;
    let need = 1;
    const finish = (): void => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    const fail = (reason: string): void => {
      finish();
      reject(new Error(reason));
    };
    const onEnd = (): void => fail('connection closed before a complete PROXY header');
    const onError = (err: Error): void => fail(`socket error before a complete PROXY header: ${err.message}`);
    // Paused-mode reads, so removing our listener leaves the socket ready for a 'data' listener or a TLSSocket.
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        buffered += chunk.length;
        // Parse only once enough has arrived: byte-at-a-time input stays linear.
        if (buffered < need) continue;
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        chunks.splice(0, chunks.length, all);
        const r = parseProxyHeader(all);
        if (r.status === 'incomplete') {
          need = r.need;
          continue;
        }
        if (r.status === 'invalid') return fail(r.reason);
        finish();
        if (all.length > r.header.length) socket.unshift(all.subarray(r.header.length));
        return resolve(r.header);
      }
    };
    const timer = setTimeout(() => fail(`no PROXY header within ${timeoutMs} ms`), timeoutMs);
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}
