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
 * - Idleness is the client's silence while the protocol waits for its input
 *   (input()): server output such as IDLE's heartbeat does not reset it (RFC
 *   9051 §5.4). While a command runs, only output the client stops taking
 *   counts; output draining to a client that reads it is never idleness.
 * - The login deadline runs from connect to login whatever the client sends,
 *   across STARTTLS; a TLS handshake is bounded too. A timer that expires
 *   mid-handshake drops the connection (nothing can be said to the peer then).
 * - A connection the server ends is destroyed after a short grace, whatever
 *   the peer does, so it never keeps its file descriptor.
 */
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { constants as zlibConstants, createDeflateRaw, createInflateRaw, type DeflateRaw } from 'node:zlib';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { CertificateSource } from './certificates.js';
import { channelBindingData } from './channel-binding.js';
import { ResponseBatch } from './response-batch.js';
import { serverHandshake, type TlsFailureLog } from './tls-handshake.js';
import { WriteTracker } from './write-tracker.js';

/** Stop reading from the socket while this much input waits to be framed (setInputLimit lowers it before login). */
const MAX_PENDING_INPUT = 256 * 1024;
/** How long a closing socket may linger before it is destroyed. */
const CLOSE_GRACE_MS = 2000;

/**
 * Sends a last line and closes; a peer that neither reads nor closes is cut
 * off after a short grace, so a refused or ended connection never keeps its
 * file descriptor.
 */
export function endWithGrace(socket: Socket, last?: string): void {
  socket.on('error', () => undefined);
  if (last === undefined) socket.end();
  else socket.end(last);
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}

/** What a protocol tells its transport. */
export interface TransportOptions {
  log: Logger;
  /** Implicit TLS: the listener already did the handshake. */
  secure: boolean;
  /** Totals this connection's protocol octets are added to (the metrics read them when scraped). */
  traffic: { in: number; out: number };
  /** Output is joined into writes of about this many octets. */
  outputChunk: number;
  /** Inactivity limit: client silence; onTimeout('idle') runs when it passes. */
  timeoutMs: number;
  /** Deadline from connect to login (onTimeout('login')); null or absent when the protocol has no login. */
  loginTimeoutMs?: number | null;
  /** Limit on a STARTTLS/STLS handshake. */
  handshakeTimeoutMs?: number;
  /** Where failed STARTTLS/STLS handshakes are reported; absent: logged at info. */
  tlsFailures?: TlsFailureLog;
  /** Hands input to the protocol's framer; returns the octets now waiting to be framed. */
  onInput(chunk: Buffer): number;
  /** The connection closed (peer end, close, or an upgrade that failed); called once. */
  onClosed(): void;
  onTimeout(kind: 'idle' | 'login'): void;
}

/** Node's tls.Server allows 120 s; a handshake unfinished after 30 s is stalled or hostile. */
const DEFAULT_HANDSHAKE_MS = 30_000;

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
  private maxPendingInput = MAX_PENDING_INPUT;
  /** When the client last sent something. */
  private lastInput = Date.now();
  /** Since when the protocol waits for input (input() called, no wake-up since); null while a command runs. */
  private waitingSince: number | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private loginTimer: NodeJS.Timeout | null = null;
  /** Octets the socket had sent when the idle check last found output pending. */
  private sentMark = -1;
  /** A STARTTLS/STLS handshake is under way. */
  private upgrading = false;

  constructor(
    socket: Socket,
    private readonly opts: TransportOptions,
  ) {
    this.secure = opts.secure;
    this.timeoutMs = opts.timeoutMs;
    this.socket = socket;
    this.sink = socket;
    this.attach(socket);
    this.armIdle(this.timeoutMs);
    const loginMs = opts.loginTimeoutMs;
    if (loginMs != null) this.loginTimer = setTimeout(() => this.expire('login'), loginMs).unref();
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
  }

  private readonly onData = (chunk: Buffer): void => {
    this.lastInput = Date.now();
    this.opts.traffic.in += chunk.length;
    if (this.opts.onInput(chunk) > this.maxPendingInput) this.socket.pause();
    this.wake();
  };

  private readonly markClosed = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.stopTimers();
    this.opts.onClosed();
    this.wake();
  };

  // ---- timers ----

  private armIdle(delayMs: number): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(this.checkIdle, Math.max(0, delayMs)).unref();
  }

  /** Input re-arms nothing (one timer per connection, not one per chunk): the check looks at when input last came. */
  private readonly checkIdle = (): void => {
    this.idleTimer = null;
    if (this.closed) return;
    if (this.waitingSince !== null) {
      const silent = Date.now() - Math.max(this.lastInput, this.waitingSince);
      if (silent < this.timeoutMs) return this.armIdle(this.timeoutMs - silent);
    }
    // A client still taking a response is busy, not idle; one that stopped reading is idle.
    const pending = this.sink.writableLength + this.socket.writableLength;
    const sent = this.socket.bytesWritten - this.socket.writableLength;
    const draining = pending > 0 && sent !== this.sentMark;
    this.sentMark = sent;
    // A command that runs without output (hashing, a long SEARCH) keeps the client waiting, not idle.
    const working = this.waitingSince === null && pending === 0;
    if (draining || working) return this.armIdle(this.timeoutMs);
    this.expire('idle');
  };

  private expire(kind: 'idle' | 'login'): void {
    if (this.closed) return;
    // Mid-handshake, or after the output side ended, nothing more can be said to the peer.
    if (this.upgrading || this.ended) this.destroy();
    else this.opts.onTimeout(kind);
  }

  private stopTimers(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.loggedIn();
  }

  /** Login succeeded: the login deadline no longer applies. */
  loggedIn(): void {
    if (this.loginTimer) clearTimeout(this.loginTimer);
    this.loginTimer = null;
  }

  private wake(): void {
    this.waitingSince = null;
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Resolves at the next input or close; resumes reading first when `pending` framed octets leave room. */
  input(pending: number): Promise<void> {
    this.waitingSince = Date.now();
    if (this.socket.isPaused() && pending < this.maxPendingInput / 2) this.socket.resume();
    return new Promise<void>((resolve) => (this.waiter = resolve));
  }

  /** Stops reading until the next input() (a sink downstream is full). */
  pause(): void {
    this.socket.pause();
  }

  /** Sets the inactivity limit (e.g. longer once logged in), counted from the client's last input. */
  setTimeout(ms: number): void {
    this.timeoutMs = ms;
    this.armIdle(this.lastInput + ms - Date.now());
  }

  /**
   * Sets how much input may wait to be framed before reading pauses (less
   * before login). It must stay above twice the longest line the framer
   * waits for, or a long line would pause reading before it is complete.
   */
  setInputLimit(octets = MAX_PENDING_INPUT): void {
    this.maxPendingInput = octets;
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
      this.opts.traffic.out += piece.length;
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
      this.opts.traffic.out += chunk.length;
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
    this.closeOutput();
    this.wake();
  }

  /** Ends the output side once the session is over; a peer that does not close as well is cut off after the grace. */
  finish(): void {
    if (!this.closed && !this.sink.writableEnded) this.closeOutput();
  }

  private closeOutput(): void {
    if (this.sink === this.socket) return endWithGrace(this.socket);
    this.sink.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** RFC 5056 channel binding data of `type` for this TLS connection (net/channel-binding.ts); null before TLS or for a type it cannot give. */
  channelBinding(type: string): Buffer | null {
    return this.socket instanceof TLSSocket ? channelBindingData(this.socket, type) : null;
  }

  /** Drops the connection at once (a failure that cannot be told to the peer). */
  destroy(): void {
    this.socket.destroy();
  }

  // ---- upgrades ----

  /**
   * Switches to TLS after the protocol's go-ahead was sent (RFC 9051 §6.2.1,
   * RFC 2595 §4). `discard` drops input read in the clear. A failed or
   * timed-out handshake is reported, closes the connection and resolves false.
   * The login deadline keeps running through it.
   */
  async startTls(certificates: CertificateSource, discard: () => void): Promise<boolean> {
    await this.flush();
    const raw = this.socket;
    raw.off('data', this.onData);
    discard();
    this.upgrading = true;
    let tlsSocket: Socket;
    try {
      tlsSocket = await serverHandshake(raw, certificates, this.opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_MS);
    } catch (err) {
      if (this.opts.tlsFailures) this.opts.tlsFailures.report('starttls', raw.remoteAddress, err);
      else this.opts.log.info({ reason: (err as Error).message }, 'TLS handshake failed');
      this.markClosed();
      return false;
    } finally {
      this.upgrading = false;
    }
    this.secure = true;
    // The handshake was the client's input.
    this.lastInput = Date.now();
    this.attach(tlsSocket);
    return true;
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
