/**
 * The link between sibling worker processes of one `mailkeep serve` (node:cluster):
 * a worker sends a message to the primary over its IPC channel and the primary
 * passes it on to every other worker (or to the one it names). The change bus
 * relay (bus-relay.ts) and the control channel (control-channel.ts) travel on it.
 *
 * Delivery: at most once, in order per sender (one IPC pipe per worker, and the
 * primary forwards in arrival order); a worker that is down or restarting
 * misses what was sent meanwhile.
 */

/** One relayed commit: [account id, mailbox id, modseq]. */
export type RelayedChange = [number, number, number];

/** Messages between workers. `to`: one worker's slot; absent: every other worker. */
export type PeerMessage = { kind: 'bus'; changes: RelayedChange[] } | { kind: 'control'; from: number; to?: number; message: unknown };

/** A worker's end of the link. */
export interface PeerLink {
  /** This worker's slot (1..workers). */
  readonly self: number;
  /** How many workers the cluster runs (this one included). */
  readonly workers: number;
  send(message: PeerMessage): void;
  /** Registers the receiver of sibling messages (one per kind is expected). */
  onMessage(handler: (message: PeerMessage) => void): void;
}

/** The envelope on the IPC channel, so cluster's own and other messages are told apart. */
export interface PeerEnvelope {
  mailkeep: 'peer';
  message: PeerMessage;
}

/** Whether an IPC message is a peer envelope. */
export function isPeerEnvelope(value: unknown): value is PeerEnvelope {
  return typeof value === 'object' && value !== null && (value as { mailkeep?: unknown }).mailkeep === 'peer';
}
