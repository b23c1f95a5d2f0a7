/**
 * The server's live sessions: every connection of every protocol registers
 * here while it runs, so shutdown can end them all, an administrator can list
 * them, and a revoked credential or a kicked user ends them at once.
 *
 * Invariants: a session is in the registry from its start until after its
 * last store call (shutdown waits for the registry to empty before closing the
 * store); listing takes a snapshot and holds nothing; a kick asks the session
 * to end the way shutdown does (IMAP BYE, POP3 -ERR), never cutting a response.
 */

import { z } from 'zod';

/** The protocols a session may speak, as a list (for schemas). */
export const SESSION_PROTOCOLS = ['imap', 'pop3', 'lmtp', 'managesieve'] as const;
/** The protocols a session may speak. */
export type SessionProtocol = (typeof SESSION_PROTOCOLS)[number];

/**
 * What a session says of itself: a snapshot, safe to serialise. The schema
 * checks one arriving from another node (server/server-control.ts) and
 * documents the admin API's answer (web/admin/api-sessions.ts).
 */
export const sessionInfoSchema = z.object({
  id: z.string().max(64),
  protocol: z.enum(SESSION_PROTOCOLS),
  /** The client's address as the listener found it (PROXY protocol aware). */
  remoteAddress: z.string().max(256),
  /** TLS is on (implicit or after STARTTLS). */
  tls: z.boolean(),
  /** When the connection was accepted (ISO 8601). */
  since: z.string().max(64),
  /** The logged-in account, or null before login. */
  user: z.object({ accountId: z.number().int(), name: z.string().max(1024), credential: z.string().max(200) }).nullable(),
  /** The selected mailbox (IMAP), or null. */
  mailbox: z.string().max(4096).nullable(),
  /** The command running now, or null while waiting for the client. */
  command: z.string().max(4096).nullable(),
});
/** What a session says of itself. */
export type SessionInfo = z.infer<typeof sessionInfoSchema>;

/** A running session as the registry sees it. */
export interface LiveSession {
  readonly id: string;
  describe(): SessionInfo;
  /** Ends the session as soon as no response is cut short (IMAP BYE, POP3 -ERR, LMTP 421). */
  shutdown(reason: string): void;
}

/** The registry: one per server process. */
export class LiveSessions {
  private readonly sessions = new Map<string, LiveSession>();

  add(session: LiveSession): void {
    this.sessions.set(session.id, session);
  }

  delete(session: LiveSession): void {
    this.sessions.delete(session.id);
  }

  get size(): number {
    return this.sessions.size;
  }

  /** A snapshot of the sessions `match` accepts (all by default). */
  list(match: (info: SessionInfo) => boolean = () => true): SessionInfo[] {
    const out: SessionInfo[] = [];
    for (const s of this.sessions.values()) {
      const info = s.describe();
      if (match(info)) out.push(info);
    }
    return out;
  }

  /** Ends every session `match` accepts; returns how many were asked to end. */
  kick(match: (info: SessionInfo) => boolean, reason: string): number {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      if (!match(s.describe())) continue;
      s.shutdown(reason);
      n++;
    }
    return n;
  }

  /** Asks every session to end (server shutdown). */
  shutdownAll(reason: string): void {
    for (const s of [...this.sessions.values()]) s.shutdown(reason);
  }
}
