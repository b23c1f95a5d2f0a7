/**
 * What a protocol probe (IMAP or POP3) gets from the port check: the open
 * line connection, how to secure it, and the optional credentials.
 */
import type { ConnectionOptions } from 'node:tls';
import { type Check, fail, type PortSpec } from './check.js';
import { judgeTls } from './tls-checks.js';
import type { LineConn } from './line-conn.js';

/** Credentials for the optional login check; the password is never printed. */
export interface Credentials {
  user: string;
  password: string;
}

/** Inputs shared by every probe of one port. */
export interface ProbeContext {
  host: string;
  /** The address connected to. */
  address: string;
  spec: PortSpec;
  tls: ConnectionOptions;
  credentials: Credentials | null;
  timeoutMs: number;
}

/** What a probe found: its lines, and whether a client could use the port as configured. */
export interface ProbeResult {
  checks: Check[];
  usable: boolean;
}

/** Upgrades after STARTTLS/STLS and judges the session; null when the handshake failed (the line says why). */
export async function secureAfterStartTls(conn: LineConn, ctx: ProbeContext, checks: Check[]): Promise<{ accepted: boolean } | null> {
  try {
    const secure = await conn.upgrade(ctx.tls);
    const judged = judgeTls(secure, ctx.host);
    checks.push(...judged.checks);
    return { accepted: judged.accepted };
  } catch (err) {
    checks.push(
      fail(
        `TLS after STARTTLS on port ${ctx.spec.port} failed: ${(err as Error).message}`,
        'The server announced STARTTLS but could not complete it; check its TLS certificate and key settings.',
      ),
    );
    return null;
  }
}

/** The line for a login not attempted because the certificate was refused. */
export const loginSkipped = (user: string): Check =>
  fail(
    `login as ${user}: not tried, the certificate is not accepted`,
    'The doctor does not send a password to a server it cannot verify; fix the certificate problems above first.',
  );

/** Advice for a port that takes passwords before TLS; from loopback, servers such as Dovecot relax the rule. */
export function plaintextAdvice(ctx: ProbeContext): string {
  const local = /^(127\.|::1$|::ffff:127\.)/.test(ctx.address)
    ? ' Some servers (Dovecot) allow this only from the same machine: run the doctor from another machine to see what clients see.'
    : '';
  return `A client set to "no encryption" sends the password readable on the network. Refuse plaintext logins on the server (mailkeep: [plaintext-auth] allow-insecure = false and no trusted-networks for this address; Dovecot: disable_plaintext_auth = yes).${local}`;
}
