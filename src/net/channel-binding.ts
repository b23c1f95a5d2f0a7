/**
 * TLS channel bindings for SASL -PLUS mechanisms (RFC 5056): what binds an
 * authentication to the TLS connection it ran over, so a man in the middle
 * with another TLS connection to each side cannot relay it.
 * - `tls-exporter` (RFC 9266): 32 octets of keying material exported with the
 *   label "EXPORTER-Channel-Binding" and no context. Offered on TLS 1.3 only:
 *   on TLS 1.2 it is safe only with the extended master secret (RFC 9266 §4.2),
 *   which Node does not report.
 * - `tls-unique` (RFC 5929 §3): the first Finished message of the latest
 *   handshake; TLS 1.2 and below only (RFC 9266 §3 retires it for TLS 1.3).
 * - `tls-server-end-point` (RFC 5929 §4): the hash of the certificate this
 *   connection was served (with SNI, the one selected for the client's name).
 */
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

/** A channel binding type this server computes. */
export type ChannelBindingType = 'tls-exporter' | 'tls-unique' | 'tls-server-end-point';

/** The binding types this connection can give, the preferred first. */
export function channelBindingTypes(socket: TLSSocket): ChannelBindingType[] {
  const tls13 = socket.getProtocol() === 'TLSv1.3';
  return tls13 ? ['tls-exporter', 'tls-server-end-point'] : ['tls-unique', 'tls-server-end-point'];
}

/** The binding data of `type` for this connection; null when the connection cannot give that type. */
export function channelBindingData(socket: TLSSocket, type: string): Buffer | null {
  if (!(channelBindingTypes(socket) as string[]).includes(type)) return null;
  if (type === 'tls-exporter') return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  if (type === 'tls-unique') {
    // RFC 5929 §3.1: the client's Finished comes first in a full handshake, the server's in a resumed one.
    return (socket.isSessionReused() ? socket.getFinished() : socket.getPeerFinished()) ?? null;
  }
  const der = socket.getCertificate();
  const raw = der && 'raw' in der ? der.raw : null;
  return raw ? createHash(endPointHash(raw)).update(raw).digest() : null;
}

/** Signature algorithm OIDs (DER content octets, hex) and the hash they name. */
const SIGNATURE_HASHES: Record<string, string> = {
  '2a864886f70d01010c': 'sha384', // sha384WithRSAEncryption
  '2a864886f70d01010d': 'sha512', // sha512WithRSAEncryption
  '2a8648ce3d040303': 'sha384', // ecdsa-with-SHA384
  '2a8648ce3d040304': 'sha512', // ecdsa-with-SHA512
};

/**
 * RFC 5929 §4.1: the certificate's signature hash, but SHA-256 where that is
 * MD5 or SHA-1. SHA-256 also for signatures RFC 5929 does not cover (Ed25519,
 * RSA-PSS), as other implementations do.
 */
export function endPointHash(certificate: Buffer): string {
  const oid = signatureAlgorithmOid(certificate);
  return (oid !== null && SIGNATURE_HASHES[oid]) || 'sha256';
}

/** One DER element's header: where its content starts and how long it is; null when malformed. */
function element(der: Buffer, at: number): { tag: number; start: number; end: number } | null {
  if (at + 2 > der.length) return null;
  const tag = der[at]!;
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const octets = len & 0x7f;
    if (octets === 0 || octets > 4 || start + octets > der.length) return null;
    len = 0;
    for (let i = 0; i < octets; i++) len = len * 256 + der[start + i]!;
    start += octets;
  }
  return start + len <= der.length ? { tag, start, end: start + len } : null;
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm SEQUENCE { OID, … }, … } (RFC 5280 §4.1): the OID's content as hex. */
function signatureAlgorithmOid(der: Buffer): string | null {
  const cert = element(der, 0);
  const tbs = cert && element(der, cert.start);
  const alg = tbs && element(der, tbs.end);
  const oid = alg && element(der, alg.start);
  return oid && oid.tag === 0x06 ? der.subarray(oid.start, oid.end).toString('hex') : null;
}
