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

/** The protocols a session may speak. */
export type SessionProtocol = 'imap' | 'pop3' | 'lmtp' | 'managesieve';

/** What a session says of itself: a snapshot, safe to serialise. */
export interface SessionInfo {
  id: string;
  protocol: SessionProtocol;
  /** The client's address as the listener found it (PROXY protocol aware). */
  remoteAddress: string;
  /** TLS is on (implicit or after STARTTLS). */
  tls: boolean;
  /** When the connection was accepted (ISO 8601). */
  since: string;
  /** The logged-in account, or null before login. */
  user: { accountId: number; name: string; credential: string } | null;
  /** The selected mailbox (IMAP), or null. */
  mailbox: string | null;
  /** The command running now, or null while waiting for the client. */
  command: string | null;
}

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
