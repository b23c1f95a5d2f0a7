/**
 * The ACME challenges this process is answering right now: http-01 key
 * authorizations by token (RFC 8555 §8.3) and tls-alpn-01 certificates by
 * name (RFC 8737 §3). The ACME manager adds one before telling the CA to
 * validate and removes it when the authorization is settled.
 *
 * Invariants: entries exist only for authorizations of our own orders (a few
 * per configured name), so the maps stay small whatever clients send.
 */
import { createSecureContext } from 'node:tls';
import type { TlsChoice } from '../net/listen.js';

/** RFC 8737 §6.2: the ALPN protocol of tls-alpn-01 validation. */
export const ACME_TLS_ALPN = 'acme-tls/1';

/**
 * One change to the pending challenges, as sibling workers of a cluster need it: the CA's validation
 * request reaches whichever worker the primary hands the connection to (server/server-control.ts).
 */
export type ChallengeChange =
  | { challenge: 'http-01'; token: string; keyAuthorization: string | null }
  | { challenge: 'tls-alpn-01'; name: string; pems: { key: string; cert: string } | null };

/** The challenges this process answers; `mirrorTo` shares the ones it adds with sibling processes. */
export class AcmeChallenges {
  private readonly tokens = new Map<string, string>();
  private readonly certificates = new Map<string, TlsChoice>();
  private mirror: ((change: ChallengeChange) => void) | null = null;

  /** Sends every change made here (by this process's ACME manager) to `mirror` too. */
  mirrorTo(mirror: (change: ChallengeChange) => void): void {
    this.mirror = mirror;
  }

  /** Applies a sibling's change here, without mirroring it back. */
  apply(change: ChallengeChange): void {
    if (change.challenge === 'http-01') {
      if (change.keyAuthorization === null) this.tokens.delete(change.token);
      else this.tokens.set(change.token, change.keyAuthorization);
    } else if (change.pems === null) this.certificates.delete(change.name.toLowerCase());
    else this.setAlpn(change.name, Buffer.from(change.pems.key), Buffer.from(change.pems.cert));
  }

  /** RFC 8555 §8.3: GET /.well-known/acme-challenge/<token> answers `keyAuthorization`. */
  addHttp(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
    this.mirror?.({ challenge: 'http-01', token, keyAuthorization });
  }

  removeHttp(token: string): void {
    this.tokens.delete(token);
    this.mirror?.({ challenge: 'http-01', token, keyAuthorization: null });
  }

  /** The key authorization for a token, if a challenge for it is pending. */
  httpResponse(token: string): string | undefined {
    return this.tokens.get(token);
  }

  /** RFC 8737 §3: a handshake for `name` offering acme-tls/1 gets this self-signed certificate. */
  addAlpn(name: string, keyPem: Buffer, certPem: Buffer): void {
    this.setAlpn(name, keyPem, certPem);
    this.mirror?.({ challenge: 'tls-alpn-01', name, pems: { key: keyPem.toString(), cert: certPem.toString() } });
  }

  private setAlpn(name: string, keyPem: Buffer, certPem: Buffer): void {
    const context = createSecureContext({ key: keyPem, cert: certPem });
    this.certificates.set(name.toLowerCase(), {
      certificates: { handshakeOptions: () => ({ secureContext: context, SNICallback: (_name, done) => done(null, context) }) },
      alpnProtocols: [ACME_TLS_ALPN],
    });
  }

  removeAlpn(name: string): void {
    this.certificates.delete(name.toLowerCase());
    this.mirror?.({ challenge: 'tls-alpn-01', name, pems: null });
  }

  /** True while some tls-alpn-01 challenge waits: only then is a ClientHello worth reading ahead. */
  get alpnPending(): boolean {
    return this.certificates.size > 0;
  }

  /** The challenge handshake for `name`, if one is pending. */
  alpnFor(name: string): TlsChoice | undefined {
    return this.certificates.get(name.toLowerCase());
  }
}
