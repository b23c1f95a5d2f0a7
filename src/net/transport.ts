/**
 * The transport every line protocol (IMAP, POP3, LMTP) runs over: the
 * socket, TLS and the STARTTLS upgrade, COMPRESS=DEFLATE, output batching
 * with backpressure and write tracking, input pausing and the inactivity
 * timeout. A protocol keeps its framing, its states and its commands; it
 * hands input to its framer and output to write(). The protocol trace is the
 * protocol's (net/trace.ts): only its framer and writers know which octets
 * are a password or message data.
 *
 * Invariants:
 * - Input is bounded: the socket is paused while more than MAX_PENDING_INPUT
 *   octets wait to be framed, and resumed once the framer is below half.
 * - Output leaves in the order written: small pieces are joined, large ones
 *   (message bodies) go on uncopied, each batch in one corked writev.
 * - Bytes pipelined behind a STARTTLS/STLS are discarded (RFC 9051 §6.2.1,
 *   RFC 2595 §4): the protocol's discard() runs before the handshake.
 * - A flush never hangs on a peer that went away ('drain' never comes then).
 */
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { constants as zlibConstants, createDeflateRaw, createInflateRaw, type DeflateRaw } from 'node:zlib';
import type { Logger } from 'pino';
import { ResponseBatch } from './response-batch.js';
import { WriteTracker } from './write-tracker.js';

/** Stop reading from the socket while this much input waits to be framed. */
const MAX_PENDING_INPUT = 256 * 1024;
/** How long a closing socket may linger before it is destroyed. */
const CLOSE_GRACE_MS = 2000;

/** What a protocol tells its transport. */
export interface TransportOptions {
  log: Logger;
  /** Implicit TLS: the listener already did the handshake. */
  secure: boolean;
  /** Output is joined into writes of about this many octets. */
  outputChunk: number;
  /** Inactivity limit; onTimeout runs when it passes. */
  timeoutMs: number;
  /** Hands input to the protocol's framer; returns the octets now waiting to be framed. */
  onInput(chunk: Buffer): number;
  /** The connection closed (peer end, close, or an upgrade that failed); called once. */
  onClosed(): void;
  onTimeout(): void;
}

/** One connection's socket and everything between it and the protocol. */
export class Transport {
  secure: boolean;
  closed = false;
  private socket: Socket;
  /** Where output goes: the socket, or a deflate stream in front of it (RFC 4978). */
  private sink: Writable;
  /** When the sink has taken what was written to it (see whenWritten). */
  private writes = new WriteTracker();
  private compressing = false;
  private readonly out = new ResponseBatch();
  private outBytes = 0;
  private waiter: (() => void) | null = null;
  private timeoutMs: number;

  constructor(
    socket: Socket,
    private readonly opts: TransportOptions,
  ) {
    this.secure = opts.secure;
    this.timeoutMs = opts.timeoutMs;
    this.socket = socket;
    this.sink = socket;
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    this.sink = socket;
    this.writes = new WriteTracker();
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    // Errors are only logged: the 'close' that follows them ends the session.
    socket.on('error', (err) => this.opts.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', this.markClosed);
    socket.on('end', this.markClosed);
    socket.setTimeout(this.timeoutMs, () => this.opts.onTimeout());
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.opts.onInput(chunk) > MAX_PENDING_INPUT) this.socket.pause();
    this.wake();
  };

  private readonly markClosed = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.opts.onClosed();
    this.wake();
  };

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Resolves at the next input or close; resumes reading first when `pending` framed octets leave room. */
  input(pending: number): Promise<void> {
    if (this.socket.isPaused() && pending < MAX_PENDING_INPUT / 2) this.socket.resume();
    return new Promise<void>((resolve) => (this.waiter = resolve));
  }

  /** Stops reading until the next input() (a sink downstream is full). */
  pause(): void {
    this.socket.pause();
  }

  /** Sets the inactivity limit (e.g. longer once logged in). */
  setTimeout(ms: number): void {
    this.timeoutMs = ms;
    this.socket.setTimeout(ms);
  }

  // ---- output ----

  /** Queues protocol text: it joins the batch's text run, no buffer per line. */
  writeText(text: string): void {
    if (this.closed || this.sink.writableEnded) return;
    this.out.add(text);
    // A string's length undercounts non-ASCII bytes; it only decides when to write.
    this.outBytes += text.length;
    if (this.outBytes >= this.opts.outputChunk) this.sendOut();
  }

  /** Queues bytes; large ones are later written uncopied. */
  write(bytes: Buffer): void {
    if (this.closed || this.sink.writableEnded) return;
    this.out.addBytes(bytes);
    this.outBytes += bytes.length;
    if (this.outBytes >= this.opts.outputChunk) this.sendOut();
  }

  /** Hands queued output to the sink in one corked batch: one writev, message bodies not copied again. */
  sendOut(): void {
    if (this.outBytes === 0 || this.closed || this.sink.writableEnded) return;
    const pieces = this.out.take();
    this.outBytes = 0;
    if (pieces.length > 1) this.sink.cork();
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      this.sink.write(piece, i === pieces.length - 1 ? this.writes.counted() : undefined);
    }
    if (pieces.length > 1) this.sink.uncork();
  }

  /** Resolves once the sink has taken every byte written so far; output still queued is covered by the write that will carry it. */
  whenWritten(): Promise<void> {
    return this.writes.allTaken(this.outBytes > 0 ? 1 : 0);
  }

  /** Sends queued output and waits while the peer is slow to read. */
  async flush(): Promise<void> {
    if (!this.flushNow()) await drainedOrClosed(this.sink, this.socket);
  }

  /** Sends queued output at once: false when the peer is slow to read and flush() must wait. */
  flushNow(): boolean {
    this.sendOut();
    // RFC 4978 §4: a sync flush after each burst so the client can decode what it was sent.
    if (this.compressing && !this.sink.writableEnded) (this.sink as DeflateRaw).flush(zlibConstants.Z_SYNC_FLUSH);
    return !this.sink.writableNeedDrain || this.closed;
  }

  /** Whether the peer is slow to read (the sink's buffer is full). */
  get congested(): boolean {
    return this.sink.writableNeedDrain;
  }

  /** Waits only while the peer is slow to read. */
  async backpressure(): Promise<void> {
    if (this.sink.writableNeedDrain && !this.closed) await this.flush();
  }

  /** Streams a readable straight to the peer with backpressure. */
  async pipeFrom(source: NodeJS.ReadableStream): Promise<void> {
    this.sendOut();
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (this.closed) break;
      this.sink.write(chunk);
      if (this.sink.writableNeedDrain) await this.flush();
    }
  }

  /** Closed, or the output side already ended: nothing more can be written. */
  get ended(): boolean {
    return this.closed || this.sink.writableEnded;
  }

  /**
   * Sends what is queued and closes (timeouts, shutdown); wakes the session
   * loop. A peer that does not close too is cut off after a grace period.
   */
  end(): void {
    if (this.ended) return;
    this.sendOut();
    this.sink.end();
    this.wake();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Ends the output side once the session is over (no grace timer: the peer closes). */
  finish(): void {
    if (!this.closed) this.sink.end();
  }

  /** Drops the connection at once (a failure that cannot be told to the peer). */
  destroy(): void {
    this.socket.destroy();
  }

  // ---- upgrades ----

  /**
   * Switches to TLS after the protocol's go-ahead was sent (RFC 9051 §6.2.1,
   * RFC 2595 §4). `discard` drops input read in the clear. A failed handshake
   * closes the connection and rejects.
   */
  async startTls(secureContext: SecureContext, discard: () => void): Promise<void> {
    await this.flush();
    const raw = this.socket;
    raw.off('data', this.onData);
    raw.removeAllListeners('timeout');
    discard();
    const tlsSocket = new TLSSocket(raw, { isServer: true, secureContext });
    try {
      await new Promise<void>((resolve, reject) => {
        tlsSocket.once('secure', resolve);
        tlsSocket.once('error', reject);
        tlsSocket.once('close', () => reject(new Error('closed during TLS handshake')));
      });
    } catch (err) {
      raw.destroy();
      this.markClosed();
      throw err;
    }
    this.secure = true;
    this.attach(tlsSocket as unknown as Socket);
  }

  /** Switches both directions to raw DEFLATE after the go-ahead was sent (RFC 4978 §3). */
  async startCompression(onBadInput: () => void): Promise<void> {
    await this.flush();
    const deflate = createDeflateRaw({ level: 6 });
    const inflate = createInflateRaw();
    deflate.pipe(this.socket);
    this.socket.off('data', this.onData);
    this.socket.on('data', (chunk: Buffer) => inflate.write(chunk));
    inflate.on('data', this.onData);
    inflate.on('error', onBadInput);
    this.sink = deflate;
    this.writes = new WriteTracker();
    this.compressing = true;
  }

  /** Whether COMPRESS is active. */
  get compressed(): boolean {
    return this.compressing;
  }
}

/** Resolves once `sink` has drained or `socket` has closed: 'drain' alone never comes when the peer is gone. */
function drainedOrClosed(sink: Writable, socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      sink.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    sink.on('drain', done);
    socket.on('close', done);
  });
}
