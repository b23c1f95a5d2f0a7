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

/** The notification channel of control messages. */
export const CONTROL_CHANNEL = 'mailkeep_control';
/** PostgreSQL's NOTIFY payload limit (default build), in bytes. */
const MAX_PAYLOAD = 8000;
const MIN_RECONNECT_MS = 100;
const MAX_RECONNECT_MS = 5000;

/** A NodeChannel on PostgreSQL LISTEN/NOTIFY. */
export class PgControlChannel implements NodeChannel {
  private listener: pg.Client | null = null;
  private onPayload: ((payload: string) => void) | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = MIN_RECONNECT_MS;
  private closed = false;

  /** `newClient` opens a dedicated client for LISTEN; `pool` sends. */
  constructor(
    private readonly newClient: () => pg.Client,
    private readonly pool: pg.Pool,
    private readonly onError: (err: unknown) => void,
  ) {}

  async start(onPayload: (payload: string) => void): Promise<void> {
    this.onPayload = onPayload;
    await this.connect();
  }

  async send(payload: string): Promise<void> {
    if (Buffer.byteLength(payload) >= MAX_PAYLOAD) throw new RangeError('control message too large for NOTIFY');
    await this.pool.query('SELECT pg_notify($1, $2)', [CONTROL_CHANNEL, payload]);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.listener;
    this.listener = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = this.newClient();
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, null));
    client.on('notification', (msg) => {
      if (msg.channel === CONTROL_CHANNEL && msg.payload !== undefined) this.onPayload?.(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CONTROL_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.reconnectDelay = MIN_RECONNECT_MS;
  }

  private lost(client: pg.Client, err: Error | null): void {
    if (this.listener !== client || this.closed) return;
    this.listener = null;
    if (err) this.onError(err);
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(MAX_RECONNECT_MS, delay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().catch((e: unknown) => {
        this.onError(e);
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }
}
