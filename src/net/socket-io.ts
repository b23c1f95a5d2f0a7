/**
 * Socket plumbing shared by the protocol connections (IMAP, POP3, LMTP):
 * wiring up the events they all handle alike, waking the session loop,
 * coalescing small responses, and waiting out write backpressure without
 * hanging on a peer that went away.
 */
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';

/** What a connection does with its socket's events. */
export interface SocketHandlers {
  /** Bytes read from the client. */
  onData(chunk: Buffer): void;
  /** The peer ended or the socket closed; may be called more than once. */
  onClosed(): void;
  log: Logger;
}

/** Wires up input, end and close; errors are only logged, the 'close' that follows them ends the session. */
export function attachSocket(socket: Socket, h: SocketHandlers): void {
  socket.setNoDelay(true);
  socket.on('data', h.onData);
  socket.on('error', (err) => h.log.debug({ err: err.message }, 'socket error'));
  socket.on('close', h.onClosed);
  socket.on('end', h.onClosed);
}

/** Resolves once `sink` has drained or `socket` has closed: 'drain' alone never comes when the peer is gone. */
export function drainedOrClosed(sink: Writable, socket: Socket): Promise<void> {
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

/** The session loop's one pending wait for socket activity; the socket handlers wake it. */
export class Wakeup {
  private waiter: (() => void) | null = null;

  /** Resolves at the next wake(). */
  wait(): Promise<void> {
    return new Promise<void>((resolve) => (this.waiter = resolve));
  }

  /** Resumes the waiting loop, if one waits. */
  wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

/** Small responses queued until about `chunkSize` octets are worth one write. */
export class OutputQueue {
  private pieces: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly chunkSize: number) {}

  /** Queues bytes; true when enough is queued to send now. */
  add(bytes: Buffer): boolean {
    this.pieces.push(bytes);
    this.bytes += bytes.length;
    return this.bytes >= this.chunkSize;
  }

  /** Takes everything queued, in order (possibly nothing). */
  takeAll(): Buffer[] {
    const pieces = this.pieces;
    this.pieces = [];
    this.bytes = 0;
    return pieces;
  }
}
