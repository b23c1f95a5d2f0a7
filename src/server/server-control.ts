/**
 * What one server process does on the control channel (events/control-channel.ts)
 * and how it joins its siblings' change bus (events/bus-relay.ts): drops
 * cached verifications of an account whose credentials changed, ends the
 * sessions of a kicked account, answers a sibling's "list live sessions" and
 * "end these sessions", and
 * answers the ACME challenges a sibling's ACME manager set up.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AcmeChallenges } from '../acme/challenges.js';
import type { CredentialCache } from '../auth/credential-cache.js';
import { BusRelay } from '../events/bus-relay.js';
import { ControlChannel } from '../events/control-channel.js';
import type { PeerLink } from '../events/peer-link.js';
import type { AccountId } from '../ids.js';
import type { LiveSessions, SessionInfo } from '../net/live-sessions.js';
import type { MailStore } from '../store/types.js';
import { matches, type SessionFilter } from '../web/admin/session-directory.js';

/** How long a listing waits for the sibling workers' replies. */
const LIST_TIMEOUT_MS = 2000;

/** The server's end of the control channel, as the CLI, the web admin and tests use it. */
export interface ServerControl {
  /** Drops cached verifications of the account in every worker and node (after a password change, disable or deletion). */
  credentialsChanged(accountId: AccountId): void;
  /** Ends the account's sessions (only those logged in with `credential`, if given) in every worker and node. */
  kick(accountId: AccountId, reason: string, credential?: string): void;
  /** The live sessions of every worker of this server (not of other nodes). */
  listSessions(): Promise<SessionInfo[]>;
  /** Ends the sessions matching `filter` in every worker of this server; resolves to how many were asked to end. */
  kickSessions(filter: SessionFilter, reason: string): Promise<number>;
  close(): Promise<void>;
}

/** What the control channel acts on. */
export interface ControlDeps {
  store: MailStore;
  credentials: CredentialCache;
  sessions: LiveSessions;
  log: Logger;
  /** The sibling workers; null in a single process. */
  peers: PeerLink | null;
  /** The ACME challenges this process answers (shared with the siblings: any of them may get the CA's request). */
  challenges: AcmeChallenges;
}

/** Joins the siblings' bus and the control channel (between nodes too, when the store offers it). */
export async function startServerControl(deps: ControlDeps): Promise<ServerControl> {
  const { store, credentials, sessions, log, peers, challenges } = deps;
  const onError = (err: unknown): void => log.warn({ err }, 'control channel');
  if (peers && store.relayCommits) {
    const toSiblings: { relay: BusRelay | null } = { relay: null };
    const deliver = store.relayCommits((change) => toSiblings.relay?.send(change));
    toSiblings.relay = new BusRelay(peers, deliver);
  }
  const channel = new ControlChannel(peers, onError);
  channel.on('credentials-changed', (m) => credentials.forget(m.accountId as AccountId));
  channel.on('kick', (m) => {
    const n = sessions.kick((s) => s.user?.accountId === m.accountId && (m.credential === undefined || s.user.credential === m.credential), m.reason);
    if (n > 0) log.info({ accountId: m.accountId, credential: m.credential, sessions: n }, 'sessions kicked');
  });
  if (peers) {
    challenges.mirrorTo((change) => channel.broadcast({ type: 'acme-challenge', change }));
    channel.on('acme-challenge', (m) => challenges.apply(m.change));
  }
  channel.answer('sessions-request', (m) => ({
    type: 'sessions-reply',
    requestId: m.requestId,
    sessions: sessions.list() as unknown as Record<string, unknown>[],
  }));
  channel.answer('kick-sessions-request', (m) => ({
    type: 'kick-sessions-reply',
    requestId: m.requestId,
    kicked: sessions.kick(matches(m.filter as SessionFilter), m.reason),
  }));
  const node = store.nodeChannel?.(onError);
  if (node) await channel.attachNodes(node);
  return {
    credentialsChanged: (accountId) => channel.broadcast({ type: 'credentials-changed', accountId }),
    kick: (accountId, reason, credential) => channel.broadcast({ type: 'kick', accountId, reason, ...(credential === undefined ? {} : { credential }) }),
    async listSessions() {
      const requestId = randomBytes(9).toString('base64url');
      const replies = await channel.request({ type: 'sessions-request', requestId }, LIST_TIMEOUT_MS);
      return [...sessions.list(), ...replies.flatMap((r) => r.sessions as unknown as SessionInfo[])];
    },
    async kickSessions(filter, reason) {
      const requestId = randomBytes(9).toString('base64url');
      const here = sessions.kick(matches(filter), reason);
      const replies = await channel.request({ type: 'kick-sessions-request', requestId, filter: { ...filter }, reason }, LIST_TIMEOUT_MS);
      return replies.reduce((n, r) => n + r.kicked, here);
    },
    close: () => channel.close(),
  };
}
