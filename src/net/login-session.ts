/**
 * What the login protocols (IMAP, POP3, ManageSieve) share on top of the
 * transport: its set-up from the configured limits, the words a timeout ends
 * a session with, and the answers that only depend on the transport and the
 * client's address (closed, secure, channel binding, cleartext refused).
 * LMTP has no login and sets up its transport itself.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { isTrusted } from './address.js';
import type { SessionInfo } from './live-sessions.js';
import type { TlsFailureLog } from './tls-handshake.js';
import { Transport } from './transport.js';

/** Coalesce small responses into writes of about this size. */
const OUTPUT_CHUNK = 64 * 1024;

/** What a login protocol's connection has from its server. */
export interface LoginTransportDeps {
  config: Pick<Config, 'limits'>;
  /** Failed STARTTLS/STLS handshakes are reported here (rate-limited). */
  tlsFailures?: TlsFailureLog;
}

/** What a login protocol tells loginTransport. */
export interface LoginTransportSetup {
  log: Logger;
  /** Implicit TLS: the listener already did the handshake. */
  secure: boolean;
  /** The protocol's traffic totals (metrics). */
  traffic: { in: number; out: number };
  /** The first inactivity limit (before login). */
  timeoutMs: number;
  /** The framer input goes to now (IMAP replaces its framer at login). */
  framer(): { push(chunk: Buffer): void; readonly buffered: number };
  onClosed?(): void;
  /** Ends the session with a last word; a timeout calls it. */
  end(text: string): void;
  /** What an idle timeout says, if not the default. */
  idleText?: string;
}

/** The transport of a login protocol, its deadlines from [limits]. */
export function loginTransport(socket: Socket, deps: LoginTransportDeps, s: LoginTransportSetup): Transport {
  const limits = deps.config.limits;
  return new Transport(socket, {
    log: s.log,
    secure: s.secure,
    traffic: s.traffic,
    outputChunk: OUTPUT_CHUNK,
    timeoutMs: s.timeoutMs,
    loginTimeoutMs: limits.loginTimeoutSeconds * 1000,
    handshakeTimeoutMs: limits.tlsHandshakeTimeoutSeconds * 1000,
    ...(deps.tlsFailures ? { tlsFailures: deps.tlsFailures } : {}),
    onInput: (chunk) => {
      const framer = s.framer();
      framer.push(chunk);
      return framer.buffered;
    },
    onClosed: s.onClosed ?? (() => undefined),
    onTimeout: (kind) => s.end(kind === 'login' ? 'Too long without logging in' : (s.idleText ?? 'Disconnected for inactivity')),
  });
}

/** A session over a Transport: the answers that are the same in every login protocol. */
export abstract class LoginSession {
  readonly id = randomBytes(6).toString('base64url');
  protected abstract readonly transport: Transport;
  abstract readonly config: Config;
  abstract readonly remoteAddress: string;
  /** When the connection was accepted, and the command running now (the live-session list). */
  protected readonly since = new Date();
  protected command: string | null = null;
  /** How the user logged in ('password', or what the login path says): a revoked credential ends its sessions. */
  protected credential = 'password';

  /** The session as the live-session list shows it: `account` once logged in, the `mailbox` selected. */
  protected liveSession(protocol: SessionInfo['protocol'], account: { id: number; name: string } | null, mailbox: string | null = null): SessionInfo {
    return {
      id: this.id,
      protocol,
      remoteAddress: this.remoteAddress,
      tls: this.secure,
      since: this.since.toISOString(),
      user: account ? { accountId: account.id, name: account.name, credential: this.credential } : null,
      mailbox,
      command: this.command,
    };
  }

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
