/**
 * Where the admin API finds live sessions. The API asks a SessionDirectory,
 * never the registry itself, so the source can change without touching the
 * routes: in a single process its registry (net/live-sessions.ts); with
 * `serve --workers N`, every worker's, asked over the control channel
 * (server/server-control.ts: a sibling that does not answer within its
 * timeout is left out).
 */
import type { LiveSessions, SessionInfo, SessionProtocol } from '../../net/live-sessions.js';

/** Which sessions: every given field must match; account names compare case-insensitively. */
export interface SessionFilter {
  id?: string;
  user?: string;
  protocol?: SessionProtocol;
}

/** Live sessions, wherever they run. */
export interface SessionDirectory {
  /** At most `limit` sessions matching the filter. */
  list(filter: SessionFilter, limit: number): Promise<SessionInfo[]>;
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

/** The sessions of this process. */
export function localSessionDirectory(registry: LiveSessions): SessionDirectory {
  return {
    async list(filter, limit) {
      return registry.list(matches(filter)).slice(0, limit);
    },
    async kick(filter, reason) {
      return registry.kick(matches(filter), reason);
    },
  };
}

/** What the cluster directory asks: the control channel's session requests (server/server-control.ts). */
export interface SessionsAcrossWorkers {
  listSessions(): Promise<SessionInfo[]>;
  kickSessions(filter: SessionFilter, reason: string): Promise<number>;
}

/** The sessions of every worker of this server. */
export function clusterSessionDirectory(control: SessionsAcrossWorkers): SessionDirectory {
  return {
    async list(filter, limit) {
      return (await control.listSessions()).filter(matches(filter)).slice(0, limit);
    },
    kick: (filter, reason) => control.kickSessions(filter, reason),
  };
}
