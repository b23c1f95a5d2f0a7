/**
 * Where the admin API finds live sessions. The API asks a SessionDirectory,
 * never the registry itself: the server's control channel
 * (server/server-control.ts) answers with the sessions of this process, its
 * sibling workers and, on PostgreSQL, every other node; whoever does not
 * answer within the bounded wait is left out, and the listing says who did
 * and which processes of the live nodes (server/node-heartbeat.ts) did not.
 */
import type { SessionInfo, SessionProtocol } from '../../net/live-sessions.js';

/** Which sessions: every given field must match; account names compare case-insensitively. */
export interface SessionFilter {
  id?: string;
  user?: string;
  protocol?: SessionProtocol;
}

/** A process that answered: its node's name and its worker slot (0: a single process). */
export interface Responder {
  node: string;
  worker: number;
}

/** A listing: the sessions, each with where it runs, which processes answered in time, and which of the live nodes' did not. */
export interface SessionListing {
  sessions: Array<SessionInfo & Responder>;
  answered: Responder[];
  missing: Responder[];
}

/** Live sessions, wherever they run. */
export interface SessionDirectory {
  /** At most `limit` sessions matching the filter. */
  list(filter: SessionFilter, limit: number): Promise<SessionListing>;
  /** Ends every matching session the protocol's way (IMAP BYE, POP3 -ERR); resolves to how many were asked to end. */
  kick(filter: SessionFilter, reason: string): Promise<number>;
}

/** Whether a session matches a filter. */
export function matches(filter: SessionFilter): (info: SessionInfo) => boolean {
  const user = filter.user?.toLowerCase();
  return (info) =>
    (filter.id === undefined || info.id === filter.id) &&
    (filter.protocol === undefined || info.protocol === filter.protocol) &&
    (user === undefined || info.user?.name.toLowerCase() === user);
}
