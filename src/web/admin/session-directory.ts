/**
 * Where the admin API finds live sessions. The API asks a SessionDirectory,
 * never the registry itself, so the source can change without touching the
 * routes: today this process's registry (net/live-sessions.ts); with several
 * workers or nodes, a directory that asks each of them over the control
 * channel and merges the answers.
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
