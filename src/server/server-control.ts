/**
 * What one server process does on the control channel (events/control-channel.ts)
 * and how it joins its siblings' change bus (events/bus-relay.ts): drops
 * cached verifications of an account whose credentials changed, ends the
 * sessions of a kicked account, answers another process's "list live
 * sessions" and "end these sessions" (the sibling workers', and every node's
 * on one PostgreSQL database), and answers the ACME challenges a sibling's
 * ACME manager set up.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AcmeChallenges } from '../acme/challenges.js';
import type { CredentialCache } from '../auth/credential-cache.js';
import { BusRelay } from '../events/bus-relay.js';
import { ControlChannel } from '../events/control-channel.js';
import type { PeerLink } from '../events/peer-link.js';
import type { AccountId } from '../ids.js';
import { type LiveSessions, type SessionInfo, sessionInfoSchema } from '../net/live-sessions.js';
import { MAX_NAME_LENGTH } from '../mail/mailbox-name.js';
import type { MailStore } from '../store/types.js';
import { slotsOf, staleBefore } from './node-heartbeat.js';
import { matches, type Responder, type SessionFilter, type SessionListing } from '../web/admin/session-directory.js';

/** How long a listing or kick waits for the sibling workers' replies (they all answer sooner, or are restarting). */
const SIBLINGS_TIMEOUT_MS = 2000;
/** How long it waits at most for other nodes' replies; it ends sooner once every live node's workers answered. */
const NODES_TIMEOUT_MS = 1500;
/** Bytes of sessions in one reply part, so a part's NOTIFY payload stays under PostgreSQL's 8000. */
const PART_BYTES = 6000;
/**
 * Characters kept of a session's mailbox and command in a reply: all of any valid mailbox name (255-character
 * account name + 512-character mailbox + command, even at 4 bytes a character, fit one NOTIFY).
 */
const MAX_FIELD = MAX_NAME_LENGTH;

/** The server's end of the control channel, as the CLI, the web admin and tests use it. */
export interface ServerControl {
  /** Drops cached verifications of the account in every worker and node (after a password change, disable or deletion). */
  credentialsChanged(accountId: AccountId): void;
  /** Ends the account's sessions (only those logged in with `credential`, if given) in every worker and node. */
  kick(accountId: AccountId, reason: string, credential?: string): void;
  /** At most `limit` live sessions matching `filter`, of every worker and node that answered in time, and who answered. */
  listSessions(filter: SessionFilter, limit: number): Promise<SessionListing>;
  /** Ends the sessions matching `filter` in every worker and node; resolves to how many were asked to end. */
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
  /** This node's name in session listings (host and the pid of its primary, or of the single process). */
  node: string;
  /** The ACME challenges this process answers (shared with the siblings: any of them may get the CA's request). */
  challenges: AcmeChallenges;
}

/** Joins the siblings' bus and the control channel (between nodes too, when the store offers it). */
export async function startServerControl(deps: ControlDeps): Promise<ServerControl> {
  const { store, credentials, sessions, log, peers, challenges } = deps;
  const self: Responder = { node: deps.node, worker: peers?.self ?? 0 };
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
  channel.answer('sessions-request', (m) =>
    replyParts(sessions.list(matches(m.filter as SessionFilter)).slice(0, m.limit)).map((part, i, parts) => ({
      type: 'sessions-reply',
      requestId: m.requestId,
      ...self,
      last: i === parts.length - 1,
      sessions: part,
    })),
  );
  channel.answer('kick-sessions-request', (m) => [
    { type: 'kick-sessions-reply', requestId: m.requestId, ...self, last: true, kicked: sessions.kick(matches(m.filter as SessionFilter), m.reason) },
  ]);
  const node = store.nodeChannel?.(onError);
  if (node) await channel.attachNodes(node);
  const timeoutMs = node ? NODES_TIMEOUT_MS : SIBLINGS_TIMEOUT_MS;
  const newRequestId = (): string => randomBytes(9).toString('base64url');
  /**
   * The processes of the live nodes other than this one (node-heartbeat.ts), or null when the table cannot be
   * read or lacks this node (then only the timeout, or every sibling's answer, ends a wait). A node missing
   * from the table (an older mailkeep) is not waited for.
   */
  const expected = async (): Promise<Responder[] | null> => {
    try {
      const live = await store.liveNodes(staleBefore());
      // This node not registered (a process without a heartbeat, e.g. an embedding test): the table says nothing.
      if (!live.some((n) => n.name === self.node)) return null;
      return live.flatMap((n) => slotsOf(n.workers).map((worker) => ({ node: n.name, worker }))).filter((r) => key(r) !== key(self));
    } catch (err) {
      onError(err);
      return null;
    }
  };
  /** Whether every expected process gave its last part. */
  const allAnswered =
    (awaited: Responder[] | null) =>
    (replies: ReadonlyArray<Responder & { last: boolean }>): boolean => {
      if (awaited === null) return false;
      const done = new Set(replies.filter((r) => r.last).map(key));
      return awaited.every((r) => done.has(key(r)));
    };
  return {
    credentialsChanged: (accountId) => channel.broadcast({ type: 'credentials-changed', accountId }),
    kick: (accountId, reason, credential) => channel.broadcast({ type: 'kick', accountId, reason, ...(credential === undefined ? {} : { credential }) }),
    async listSessions(filter, limit) {
      const here = sessions.list(matches(filter)).slice(0, limit);
      const awaited = await expected();
      const replies = await channel.request(
        { type: 'sessions-request', requestId: newRequestId(), filter: { ...filter }, limit },
        { timeoutMs, enough: allAnswered(awaited) },
      );
      const listed = here.map((s) => ({ ...s, ...self }));
      const answered = new Map([[key(self), self]]);
      for (const r of replies) {
        const from = { node: r.node, worker: r.worker };
        if (r.last) answered.set(key(from), from);
        for (const raw of r.sessions) {
          const parsed = sessionInfoSchema.safeParse(raw);
          if (parsed.success) listed.push({ ...parsed.data, ...from });
          else onError(new Error(`control channel: a session from ${key(from)} dropped (${parsed.error.issues[0]?.message ?? 'invalid'})`));
        }
      }
      const order = (a: Responder, b: Responder): number => a.node.localeCompare(b.node) || a.worker - b.worker;
      const missing = (awaited ?? []).filter((r) => !answered.has(key(r)));
      return { sessions: listed.slice(0, limit), answered: [...answered.values()].sort(order), missing: missing.sort(order) };
    },
    async kickSessions(filter, reason) {
      const here = sessions.kick(matches(filter), reason);
      // Session ids are unique: the one found here is not elsewhere.
      if (filter.id !== undefined && here > 0) return here;
      const everyone = allAnswered(await expected());
      const replies = await channel.request(
        { type: 'kick-sessions-request', requestId: newRequestId(), filter: { ...filter }, reason },
        // The session of an id is in one process: its "ended 1" is the answer.
        { timeoutMs, enough: (got) => (filter.id !== undefined && got.some((r) => r.kicked > 0)) || everyone(got) },
      );
      return replies.reduce((n, r) => n + r.kicked, here);
    },
    close: () => channel.close(),
  };
}

/** A responder's key: node and worker. */
function key(r: Responder): string {
  return `${r.node}#${r.worker}`;
}

/**
 * The sessions in parts of at most PART_BYTES of JSON each (at least one part, maybe empty), with the
 * free-text fields cut to MAX_FIELD characters so that any one session fits a part.
 */
function replyParts(list: SessionInfo[]): Record<string, unknown>[][] {
  const parts: Record<string, unknown>[][] = [[]];
  let bytes = 0;
  for (const info of list) {
    const s = { ...info, mailbox: info.mailbox?.slice(0, MAX_FIELD) ?? null, command: info.command?.slice(0, MAX_FIELD) ?? null };
    const size = Buffer.byteLength(JSON.stringify(s));
    if (bytes + size > PART_BYTES && parts.at(-1)!.length > 0) {
      parts.push([]);
      bytes = 0;
    }
    parts.at(-1)!.push(s);
    bytes += size;
  }
  return parts;
}
