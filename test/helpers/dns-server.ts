/**
 * A tiny authoritative DNS server for tests (UDP on a loopback port): A, SRV,
 * MX, CNAME and CAA answers from a table, NXDOMAIN for names not in it, an empty answer
 * for a type a known name lacks. Queries are parsed with bounds (one
 * question, names up to 255 bytes); anything else is ignored.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';

/** Records of one name. */
export interface DnsRecords {
  a?: string[];
  srv?: { priority: number; weight: number; port: number; target: string }[];
  mx?: { priority: number; exchange: string }[];
  cname?: string[];
  /** RFC 8659 §4.1: flags, tag ("issue") and value. */
  caa?: { flags: number; tag: string; value: string }[];
}

/** A running server; `address` is what --dns-server takes. */
export interface TestDnsServer {
  address: string;
  /** Names asked for, lower-case, in order (bounded to the last 1000). */
  queries: string[];
  stop(): Promise<void>;
}

const TYPE = { A: 1, CNAME: 5, MX: 15, SRV: 33, CAA: 257 } as const;

/** Reads the question name at offset 12; null when malformed or compressed. */
function readQuestion(msg: Buffer): { name: string; type: number; end: number } | null {
  const labels: string[] = [];
  let i = 12;
  while (i < msg.length && i < 12 + 255) {
    const len = msg[i]!;
    if (len === 0) {
      if (i + 5 > msg.length) return null;
      return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(i + 1), end: i + 5 };
    }
    if (len > 63) return null;
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return null;
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16BE(v, i * 2));
  return b;
}

function rdata(type: number, records: DnsRecords): Buffer[] {
  if (type === TYPE.A) return (records.a ?? []).map((ip) => Buffer.from(ip.split('.').map(Number)));
  if (type === TYPE.SRV) return (records.srv ?? []).map((r) => Buffer.concat([u16(r.priority, r.weight, r.port), encodeName(r.target)]));
  if (type === TYPE.MX) return (records.mx ?? []).map((r) => Buffer.concat([u16(r.priority), encodeName(r.exchange)]));
  if (type === TYPE.CNAME) return (records.cname ?? []).map(encodeName);
  if (type === TYPE.CAA) return (records.caa ?? []).map((r) => Buffer.concat([Buffer.from([r.flags, r.tag.length]), Buffer.from(r.tag + r.value, 'latin1')]));
  return [];
}

function answer(query: Buffer, zone: Map<string, DnsRecords>): Buffer | null {
  if (query.length < 17 || query.readUInt16BE(4) !== 1) return null;
  const q = readQuestion(query);
  if (!q) return null;
  const records = zone.get(q.name);
  const answers = records ? rdata(q.type, records) : [];
  // QR, AA, RD copied, RA; RCODE 3 (NXDOMAIN) for an unknown name.
  const flags = 0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (records ? 0 : 3);
  const header = Buffer.concat([u16(query.readUInt16BE(0), flags, 1, answers.length, 0, 0)]);
  const rrs = answers.map((data) => Buffer.concat([u16(0xc00c, q.type, 1), Buffer.from([0, 0, 0, 60]), u16(data.length), data]));
  return Buffer.concat([header, query.subarray(12, q.end), ...rrs]);
}

/** Starts the server on a free UDP port of 127.0.0.1; `zone` maps names (no trailing dot) to records. */
export async function startDnsServer(zone: Record<string, DnsRecords>): Promise<TestDnsServer> {
  const table = new Map(Object.entries(zone).map(([k, v]) => [k.toLowerCase(), v]));
  const socket: Socket = createSocket('udp4');
  const queries: string[] = [];
  socket.on('message', (msg, peer) => {
    const q = readQuestion(msg);
    if (q) {
      queries.push(q.name);
      if (queries.length > 1000) queries.shift();
    }
    const reply = answer(msg, table);
    if (reply) socket.send(reply, peer.port, peer.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return {
    address: `127.0.0.1:${socket.address().port}`,
    queries,
    stop: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}
