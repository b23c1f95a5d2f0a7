/**
 * One dedicated PostgreSQL connection that LISTENs on a channel, for the
 * change bus (pg-bus.ts) and the control channel (pg-control.ts).
 *
 * Invariants: start() fails when the database is unreachable; a connection
 * lost later is replaced with backoff (100 ms doubling to 5 s), and
 * `onReconnected` runs after each replacement, since notifications sent
 * meanwhile were missed; after close() nothing reconnects.
 */
import type pg from 'pg';

const MIN_RECONNECT_MS = 100;
const MAX_RECONNECT_MS = 5000;

/** What a listener needs: a fresh client, its channel, and what to do with what it hears. */
export interface PgListenerOptions {
  newClient: () => pg.Client;
  channel: string;
  onPayload: (payload: string) => void;
  onError: (err: unknown) => void;
  /** After a lost connection was replaced (not after the first connect). */
  onReconnected?: () => void;
}

/** A reconnecting LISTEN connection. */
export class PgListener {
  private client: pg.Client | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = MIN_RECONNECT_MS;
  private closed = false;

  constructor(private readonly opts: PgListenerOptions) {}

  /** Connects and LISTENs; rejects when the database cannot be reached. */
  start(): Promise<void> {
    return this.connect();
  }

  /** Stops reconnecting and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const { channel } = this.opts;
    const client = this.opts.newClient();
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, null));
    client.on('notification', (msg) => {
      if (msg.channel === channel && msg.payload !== undefined) this.opts.onPayload(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.reconnectDelay = MIN_RECONNECT_MS;
  }

  private lost(client: pg.Client, err: Error | null): void {
    if (this.client !== client || this.closed) return;
    this.client = null;
    if (err) this.opts.onError(err);
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(MAX_RECONNECT_MS, delay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect().then(
        () => this.opts.onReconnected?.(),
        (e: unknown) => {
          this.opts.onError(e);
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }
}
