/**
 * Reads a TLS ClientHello before the handshake, to learn the server name and
 * the ALPN protocols offered (RFC 8737 §3 answers "acme-tls/1" with a
 * certificate of its own, which Node's SNI callback cannot know about: ALPN is
 * chosen after the certificate context).
 *
 * Invariants: at most one TLS record (5 + 16,384 bytes) is read, within the
 * caller's deadline; whatever was read is unshifted back onto the socket, so
 * the handshake that follows sees every byte.
 */
import type { Socket } from 'node:net';

/** The parts of a ClientHello the HTTPS listener looks at. */
export interface ClientHelloFacts {
  /** RFC 6066 §3 host_name, lower case; null when absent. */
  servername: string | null;
  /** RFC 7301 §3.1 protocol names offered. */
  alpn: string[];
}

const RECORD_HEADER = 5;
/** RFC 8446 §5.1: a plaintext record holds at most 2^14 bytes. */
const MAX_RECORD = 16384;
const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;

/**
 * Waits for the first TLS record (or `deadline`), puts the bytes back and
 * parses them. Resolves null when the connection does not start with a
 * ClientHello that fits one record; the handshake then runs as usual.
 */
export function peekClientHello(socket: Socket, deadline: number): Promise<ClientHelloFacts | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let buffered = 0;
    let need = RECORD_HEADER;
    const finish = (): void => {
      clearTimeout(timer);
      socket.off('readable', onReadable);
      socket.off('end', finish);
      socket.off('close', finish);
      const bytes = Buffer.concat(chunks, buffered);
      if (buffered > 0) socket.unshift(bytes);
      resolve(parseClientHello(bytes));
    };
    // Paused-mode reads (as readProxyHeader), so the TLSSocket that follows reads from the start.
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        buffered += chunk.length;
        if (chunks[0]![0] !== HANDSHAKE) return finish();
        if (buffered < need) continue;
        if (need === RECORD_HEADER) {
          need = RECORD_HEADER + Math.min(Buffer.concat(chunks, buffered).readUInt16BE(3), MAX_RECORD);
          if (buffered < need) continue;
        }
        return finish();
      }
    };
    const timer = setTimeout(finish, Math.max(0, deadline - Date.now()));
    socket.on('readable', onReadable);
    socket.once('end', finish);
    socket.once('close', finish);
  });
}

/** RFC 8446 §4.1.2 ClientHello in one record: server name and ALPN; null if malformed or partial. */
export function parseClientHello(bytes: Buffer): ClientHelloFacts | null {
  try {
    if (bytes.length < RECORD_HEADER || bytes[0] !== HANDSHAKE) return null;
    const record = bytes.subarray(RECORD_HEADER, RECORD_HEADER + bytes.readUInt16BE(3));
    if (record[0] !== CLIENT_HELLO) return null;
    const body = record.subarray(4, 4 + record.readUIntBE(1, 3));
    let at = 2 + 32; // legacy_version, random
    at += 1 + body.readUInt8(at); // legacy_session_id
    at += 2 + body.readUInt16BE(at); // cipher_suites
    at += 1 + body.readUInt8(at); // legacy_compression_methods
    const end = Math.min(body.length, at + 2 + body.readUInt16BE(at));
    at += 2;
    const facts: ClientHelloFacts = { servername: null, alpn: [] };
    while (at + 4 <= end) {
      const type = body.readUInt16BE(at);
      const ext = body.subarray(at + 4, at + 4 + body.readUInt16BE(at + 2));
      at += 4 + ext.length;
      if (type === EXT_SERVER_NAME) facts.servername = hostName(ext);
      else if (type === EXT_ALPN) facts.alpn = protocols(ext);
    }
    return facts;
  } catch {
    // A read past the end (RangeError): a truncated or forged hello.
    return null;
  }
}

/** RFC 6066 §3 ServerNameList: the host_name entry (type 0). */
function hostName(ext: Buffer): string | null {
  const end = Math.min(ext.length, 2 + ext.readUInt16BE(0));
  for (let at = 2; at + 3 <= end; ) {
    const len = ext.readUInt16BE(at + 1);
    if (ext[at] === 0)
      return ext
        .subarray(at + 3, at + 3 + len)
        .toString('latin1')
        .toLowerCase();
    at += 3 + len;
  }
  return null;
}

/** RFC 7301 §3.1 ProtocolNameList. */
function protocols(ext: Buffer): string[] {
  const names: string[] = [];
  const end = Math.min(ext.length, 2 + ext.readUInt16BE(0));
  for (let at = 2; at < end; ) {
    const len = ext.readUInt8(at);
    names.push(ext.subarray(at + 1, at + 1 + len).toString('latin1'));
    at += 1 + len;
  }
  return names;
}
