/**
 * What the login protocols (IMAP, POP3, ManageSieve) share on top of the
 * transport: its set-up from the configured limits, the words a timeout ends
 * a session with, and the answers that only depend on the transport and the
 * client's address (closed, secure, channel binding, cleartext refused).
 * LMTP has no login and sets up its transport itself.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { isTrusted } from './address.js';
import type { TlsFailureLog } from './tls-handshake.js';
import { Transport } from './transport.js';

/** Coalesce small responses into writes of about this size. */
const OUTPUT_CHUNK = 64 * 1024;

/** What a login protocol tells loginTransport. */
export interface LoginTransportSetup {
  log: Logger;
  /** Implicit TLS: the listener already did the handshake. */
  secure: boolean;
  /** The protocol's traffic totals (metrics). */
  traffic: { in: number; out: number };
  limits: Config['limits'];
  /** The first inactivity limit (before login). */
  timeoutMs: number;
  tlsFailures: TlsFailureLog | undefined;
  /** The framer input goes to now (IMAP replaces its framer at login). */
  framer(): { push(chunk: Buffer): void; readonly buffered: number };
  onClosed?(): void;
  /** Ends the session with a last word; a timeout calls it. */
  end(text: string): void;
  /** What an idle timeout says. */
  idleText: string;
}

/** The transport of a login protocol, its deadlines from [limits]. */
export function loginTransport(socket: Socket, s: LoginTransportSetup): Transport {
  return new Transport(socket, {
    log: s.log,
    secure: s.secure,
    traffic: s.traffic,
    outputChunk: OUTPUT_CHUNK,
    timeoutMs: s.timeoutMs,
    loginTimeoutMs: s.limits.loginTimeoutSeconds * 1000,
    handshakeTimeoutMs: s.limits.tlsHandshakeTimeoutSeconds * 1000,
    ...(s.tlsFailures ? { tlsFailures: s.tlsFailures } : {}),
    onInput: (chunk) => {
      const framer = s.framer();
      framer.push(chunk);
      return framer.buffered;
    },
    onClosed: s.onClosed ?? (() => undefined),
    onTimeout: (kind) => s.end(kind === 'login' ? 'Too long without logging in' : s.idleText),
  });
}

/** A session over a Transport: the answers that are the same in every login protocol. */
export abstract class LoginSession {
  protected abstract readonly transport: Transport;
  abstract readonly config: Config;
  abstract readonly remoteAddress: string;

  /** The connection has closed. */
  get closed(): boolean {
    return this.transport.closed;
  }

  /** The connection is encrypted (implicit TLS or after STARTTLS/STLS). */
  get secure(): boolean {
    return this.transport.secure;
  }

  /** Channel binding data for SASL -PLUS mechanisms (RFC 5056); null before TLS. */
  channelBinding(type: string): Buffer | null {
    return this.transport.channelBinding(type);
  }

  /**
   * Cleartext passwords only over TLS, unless [plaintext-auth] allows them or
   * the client is on a trusted network (RFC 9051 §6.2.3 LOGINDISABLED,
   * RFC 2595 §2.2, RFC 5804 §2.1.1).
   */
  get loginDisabled(): boolean {
    if (this.secure || this.config.plaintextAuth.allowInsecure) return false;
    return !isTrusted(this.remoteAddress, this.config.plaintextAuth.trustedNetworks);
  }
}
