/**
 * The control channel between nodes over PostgreSQL: `NOTIFY mailkeep_control`
 * with a JSON payload, heard on one dedicated LISTEN connection per process
 * (the change bus keeps its own channel, pg-bus.ts).
 *
 * Invariants: a payload over PostgreSQL's 8000-byte NOTIFY limit is refused
 * before it is sent; after a lost LISTEN connection it reconnects with backoff
 * (what was sent meanwhile is missed: the control channel is at-most-once).
 */
import type pg from 'pg';
import type { NodeChannel } from './control-channel.js';
import { PgListener } from './pg-listener.js';

/** The notification channel of control messages. */
export const CONTROL_CHANNEL = 'mailkeep_control';
/** PostgreSQL's NOTIFY payload limit (default build), in bytes. */
const MAX_PAYLOAD = 8000;

/** A NodeChannel on PostgreSQL LISTEN/NOTIFY. */
export class PgControlChannel implements NodeChannel {
  private listener: PgListener | null = null;

  /** `newClient` opens a dedicated client for LISTEN; `pool` sends. */
  constructor(
    private readonly newClient: () => pg.Client,
    private readonly pool: pg.Pool,
    private readonly onError: (err: unknown) => void,
  ) {}

  async start(onPayload: (payload: string) => void): Promise<void> {
    this.listener = new PgListener({ newClient: this.newClient, channel: CONTROL_CHANNEL, onPayload, onError: this.onError });
    await this.listener.start();
  }

  async send(payload: string): Promise<void> {
    if (Buffer.byteLength(payload) >= MAX_PAYLOAD) throw new RangeError('control message too large for NOTIFY');
    await this.pool.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, payload]);
  }

  async close(): Promise<void> {
    await this.listener?.close();
  }
}
