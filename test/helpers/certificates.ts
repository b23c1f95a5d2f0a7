/** Certificate/key pairs for TLS tests, and a client that reports which certificate a server presented. */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';

/** A PEM pair. */
export interface Pair {
  cert: string;
  key: string;
}

/** A self-signed EC pair for `names` (the first is the CN), valid from `notBefore` to `notAfter` (default: now to a year on), signed with SHA-256 or `sha384` (P-384). */
export async function makePair(names: string[], validity: { notBefore?: Date; notAfter?: Date; sha384?: boolean } = {}): Promise<Pair> {
  const notBeforeDate = validity.notBefore ?? new Date(Date.now() - 60_000);
  const notAfterDate = validity.notAfter ?? new Date(Date.now() + 365 * 24 * 3600_000);
  const pems = await generate([{ name: 'commonName', value: names[0]! }], {
    keyType: 'ec',
    curve: validity.sha384 ? 'P-384' : 'P-256',
    algorithm: validity.sha384 ? 'sha384' : 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) }],
  });
  return { cert: pems.cert, key: pems.private };
}

/** Writes a pair's files. */
export function writePair(pair: Pair, certFile: string, keyFile: string): void {
  writeFileSync(certFile, pair.cert);
  writeFileSync(keyFile, pair.key);
}

/** How to reach TLS on a port: at once (993, 995), or after a plaintext upgrade command (STARTTLS on 143, STLS on 110). */
export type Upgrade = null | { command: string; ok: RegExp };
export const IMAP_STARTTLS: Upgrade = { command: 'a STARTTLS\r\n', ok: /^a OK/m };
export const POP3_STLS: Upgrade = { command: 'STLS\r\n', ok: /^\+OK/m };

/** Reads from a socket until `pattern` appears (or 10 s pass). */
async function readUntil(socket: NodeJS.ReadableStream & { destroy(): void }, pattern: RegExp): Promise<string> {
  let text = '';
  const timer = setTimeout(() => socket.destroy(), 10_000);
  try {
    while (!pattern.test(text)) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      text += chunk.toString();
    }
  } finally {
    clearTimeout(timer);
  }
  return text;
}

/** Opens a TLS session (sending `servername` when given) and returns the socket once the greeting (if implicit) or the upgrade is done. */
export async function openTls(port: number, servername: string | undefined, upgrade: Upgrade): Promise<TLSSocket> {
  const sni = servername === undefined ? {} : { servername };
  if (upgrade === null) {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...sni });
    await once(socket, 'secureConnect');
    await readUntil(socket, /\r\n/);
    return socket;
  }
  const raw = connectTcp({ host: '127.0.0.1', port });
  await readUntil(raw, /\r\n/);
  raw.write(upgrade.command);
  await readUntil(raw, upgrade.ok);
  const socket = connect({ socket: raw, rejectUnauthorized: false, ...sni });
  await once(socket, 'secureConnect');
  return socket;
}

/** The SHA-256 fingerprint of the certificate the server presents for `servername` (closing the connection). */
export async function presented(port: number, servername: string | undefined, upgrade: Upgrade = null): Promise<string> {
  const socket = await openTls(port, servername, upgrade);
  const fingerprint = socket.getPeerX509Certificate()!.fingerprint256;
  socket.destroy();
  return fingerprint;
}

/** A pair's SHA-256 fingerprint, as a client sees it. */
export async function fingerprintOf(pair: Pair): Promise<string> {
  const { X509Certificate } = await import('node:crypto');
  return new X509Certificate(pair.cert).fingerprint256;
}
