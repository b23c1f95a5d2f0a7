/**
 * The client side of SCRAM (RFC 5802, RFC 7677) for tests: builds the
 * client-first and client-final messages (with any channel binding flag and
 * data, right or wrong) and checks the server's signature. Independent of
 * the server's code on purpose: only node:crypto.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';

/** The hash of a SCRAM mechanism. */
export type Hash = 'sha1' | 'sha256';

/** The gs2 channel binding choice: none ('n'), could but thinks the server can't ('y'), or a type with its data. */
export type Binding = { flag: 'n' } | { flag: 'y' } | { flag: 'p'; type: string; data: Buffer };

/** One client exchange. */
export class ScramClient {
  readonly clientFirst: string;
  private readonly bare: string;
  private readonly gs2: string;
  private serverSignature: Buffer | null = null;

  constructor(
    private readonly hash: Hash,
    user: string,
    private readonly password: string,
    private readonly binding: Binding = { flag: 'n' },
    nonce = randomBytes(18).toString('base64'),
    authzid = '',
  ) {
    const name = (s: string): string => s.replace(/=/g, '=3D').replace(/,/g, '=2C');
    this.gs2 = `${binding.flag === 'p' ? `p=${binding.type}` : binding.flag},${authzid === '' ? '' : `a=${name(authzid)}`},`;
    this.bare = `n=${name(user)},r=${nonce}`;
    this.clientFirst = this.gs2 + this.bare;
  }

  /** client-final-message for the server-first-message; `salted` skips PBKDF2 when the caller cached it (as real clients do). */
  final(serverFirst: string, salted?: Buffer): string {
    const attrs = new Map(serverFirst.split(',').map((f) => [f[0], f.slice(2)] as const));
    const cb = Buffer.concat([Buffer.from(this.gs2), this.binding.flag === 'p' ? this.binding.data : Buffer.alloc(0)]);
    const withoutProof = `c=${cb.toString('base64')},r=${attrs.get('r')}`;
    const auth = `${this.bare},${serverFirst},${withoutProof}`;
    const key = salted ?? this.salted(Buffer.from(attrs.get('s') ?? '', 'base64'), Number(attrs.get('i')));
    const hmac = (k: Buffer, d: string): Buffer => createHmac(this.hash, k).update(d).digest();
    const clientKey = hmac(key, 'Client Key');
    const signature = hmac(createHash(this.hash).update(clientKey).digest(), auth);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
    this.serverSignature = hmac(hmac(key, 'Server Key'), auth);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** SaltedPassword for a salt and iteration count (RFC 5802 §3). */
  salted(salt: Buffer, iterations: number): Buffer {
    return pbkdf2Sync(this.password, salt, iterations, this.hash === 'sha1' ? 20 : 32, this.hash);
  }

  /** Whether server-final-message carries the signature a server knowing the keys computes. */
  verifies(serverFinal: string): boolean {
    return this.serverSignature !== null && serverFinal === `v=${this.serverSignature.toString('base64')}`;
  }
}

/** tls-exporter binding data (RFC 9266) of a client TLS socket. */
export const tlsExporter = (socket: TLSSocket): Buffer => socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));

/** tls-server-end-point binding data (RFC 5929 §4) of a client TLS socket: SHA-256 of the server's certificate (SHA-256-signed here). */
export const tlsServerEndPoint = (socket: TLSSocket): Buffer => createHash('sha256').update(socket.getPeerCertificate().raw).digest();

/** tls-unique binding data (RFC 5929 §3) of a client TLS 1.2 socket after a full handshake: the client's Finished came first. */
export const tlsUnique = (socket: TLSSocket): Buffer => {
  const finished = socket.getFinished();
  if (!finished) throw new Error('no Finished message');
  return finished;
};

/** base64 of UTF-8 text, and back. */
export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
export const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');
