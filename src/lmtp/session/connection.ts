/**
 * One LMTP connection (RFC 2033): reads command lines and message data, runs
 * commands in order, and writes replies over the shared transport
 * (net/transport.ts: batching, backpressure, timeout).
 *
 * Invariants:
 * - Commands run one at a time, in the order received; replies stay in that
 *   order. Replies are sent when no further command is waiting in the input,
 *   so a pipelined group gets its replies together (RFC 2920 §3.1).
 * - Input is bounded: command lines by MAX_LINE; the socket is paused while
 *   unprocessed input exceeds MAX_PENDING_INPUT; message data streams to the
 *   blob store with its backpressure and is capped by limits.append-limit.
 * - No authentication: the listener binds to loopback or a unix socket
 *   unless configured otherwise (RFC 2033 §1 — LMTP is for local use).
 * - Nothing is written while a store transaction is open (the store API is
 *   whole transactions behind promises).
 * - The trace shows command lines as framed and replies as written; message
 *   data (DATA, BDAT) only as its size.
 */
import { randomBytes } from 'node:crypto';
import type { SieveDelivery } from '../../mail/sieve-delivery.js';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { AddressingRules, MessageStager } from '../../mail/deliver.js';
import { LineBuffer } from '../../net/line-buffer.js';
import { Transport } from '../../net/transport.js';
import { trafficOf } from '../../metrics/metrics.js';
import { type TraceSink, TraceText, traceLine } from '../../net/trace.js';
import { protocolTrace } from '../../log.js';
import type { MailStore } from '../../store/types.js';
import { resetTransaction } from '../commands/envelope.js';
import { COMMANDS } from '../commands/registry.js';
import { LmtpError } from '../errors.js';
import { DotDecoder } from '../wire/dot-decoder.js';
import { multilineReply, replyLine } from '../wire/reply.js';
import type { LmtpSession } from './session.js';
import type { LmtpState } from './state.js';
import type { SessionInfo } from '../../net/live-sessions.js';

/** RFC 5321 §4.5.3.1.4 allows 512 octets plus what extensions add; generous for long addresses and parameters. */
const MAX_LINE = 4096;
/** Coalesce small replies into writes of about this size. */
const OUTPUT_CHUNK = 16 * 1024;
/** RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for the next command or data. */
const TIMEOUT_MS = 5 * 60 * 1000;

/** Shared services a connection needs. */
export interface LmtpDeps {
  store: MailStore;
  config: Config;
  log: Logger;
  /** Runs the recipients' Sieve scripts; absent: every copy goes to its default mailbox. */
  sieve?: SieveDelivery;
  /** Connections that should end on shutdown register here. */
  onClose(conn: LmtpConnection): void;
}

/** One client connection. */
export class LmtpConnection implements LmtpSession {
  readonly id = randomBytes(6).toString('base64url');
  readonly store: MailStore;
  readonly sieve: SieveDelivery | null;
  readonly config: Config;
  readonly log: Logger;
  readonly rules: AddressingRules;
  readonly hostname: string;
  state: LmtpState = { kind: 'connected' };

  private readonly input = new LineBuffer(MAX_LINE);
  private readonly remote: string;
  private readonly transport: Transport;
  /** Waiting for the next command, so a shutdown can close at once without cutting a transaction. */
  private awaitingCommand = false;
  private pendingShutdown: string | null = null;
  private badCommands = 0;
  /** The protocol trace, or null when tracing is off. */
  private readonly trace: TraceSink | null;
  /** When the connection was accepted (the live-session list). */
  private readonly since = new Date();

  /** `remote`: the client's address as the listener found it (PROXY protocol aware; 'local' on the unix socket). */
  constructor(
    socket: Socket,
    private readonly deps: LmtpDeps,
    remote: string,
  ) {
    this.store = deps.store;
    this.sieve = deps.sieve ?? null;
    this.config = deps.config;
    this.hostname = deps.config.hostname;
    this.rules = { domains: deps.config.domains, recipientDelimiter: deps.config.lmtp.recipientDelimiter };
    this.remote = remote;
    this.log = deps.log.child({ session: this.id, protocol: 'lmtp' });
    this.trace = this.config.log.trace ? protocolTrace(this.log) : null;
    this.transport = new Transport(socket, {
      log: this.log,
      secure: false,
      traffic: trafficOf('lmtp'),
      outputChunk: OUTPUT_CHUNK,
      timeoutMs: TIMEOUT_MS,
      onInput: (chunk) => {
        this.input.push(chunk);
        return this.input.buffered;
      },
      onClosed: () => this.deps.onClose(this),
      onTimeout: () => this.close('4.4.2', 'Timeout, closing connection'),
    });
  }

  private get closed(): boolean {
    return this.transport.closed;
  }

  // ---- output ----

  reply(code: number, enhanced: string | null, text: string): void {
    this.write(replyLine(code, enhanced, text));
  }

  replyLines(code: number, lines: readonly string[]): void {
    this.write(multilineReply(code, lines));
  }

  private write(bytes: Buffer): void {
    this.transport.write(bytes);
    this.trace?.server(traceLine(bytes));
  }

  /** Traces message data read from the client by its size (`end`: the line that ended it). */
  private traceData(octets: number, end: string): void {
    this.trace?.client(new TraceText().messageData(octets).text(end).take());
  }

  flush(): Promise<void> {
    return this.transport.flush();
  }

  describe(): SessionInfo {
    return { id: this.id, protocol: 'lmtp', remoteAddress: this.remote, tls: false, since: this.since.toISOString(), user: null, mailbox: null, command: null };
  }

  /** Server shutdown: 421 now when between commands, else right after the command in progress (RFC 5321 §3.8). */
  shutdown(reason: string): void {
    if (this.awaitingCommand) this.close('4.3.2', reason);
    else this.pendingShutdown = reason;
  }

  /** Sends 421 and closes the connection. */
  private close(enhanced: string, text: string): void {
    if (this.closed) return;
    this.reply(421, enhanced, text);
    this.transport.end();
    this.state = { kind: 'closing' };
  }

  // ---- input ----

  /** Waits for more client input; replies queued so far go out first (PIPELINING: one flush per group). */
  private async moreInput(): Promise<void> {
    await this.flush();
    if (this.closed) return;
    await this.transport.input(this.input.buffered);
  }

  async readData(sink: MessageStager): Promise<boolean> {
    const decoder = new DotDecoder();
    let octets = 0;
    for (;;) {
      const chunk = this.input.take();
      if (chunk.length > 0) {
        const { data, rest } = decoder.push(chunk);
        for (const piece of data) {
          octets += piece.length;
          if (!sink.write(piece)) await sink.drained();
        }
        if (rest !== null) {
          this.input.unshift(rest);
          this.traceData(octets, '\r\n.\r\n');
          return true;
        }
        continue;
      }
      if (this.closed) return false;
      await this.moreInput();
    }
  }

  async readChunk(size: number, sink: MessageStager | null): Promise<boolean> {
    let left = size;
    while (left > 0) {
      const chunk = this.input.take(left);
      if (chunk.length > 0) {
        left -= chunk.length;
        if (sink && !sink.write(chunk)) await sink.drained();
        continue;
      }
      if (this.closed) return false;
      await this.moreInput();
    }
    this.traceData(size, '');
    return true;
  }

  /** Runs the connection until it closes. */
  async run(): Promise<void> {
    // RFC 2033 §4 / RFC 5321 §4.3.1: the greeting has no enhanced code.
    this.reply(220, null, `${this.hostname} LMTP mailkeep ready`);
    this.log.info({ remote: this.remote }, 'connect');
    try {
      while (!this.closed && this.state.kind !== 'closing') {
        const line = this.input.nextLine();
        if (line === null) {
          this.awaitingCommand = true;
          if (this.pendingShutdown !== null) this.close('4.3.2', this.pendingShutdown);
          else await this.moreInput();
          this.awaitingCommand = false;
          continue;
        }
        if (line.type === 'too-long') this.fail(new LmtpError(500, '5.5.2', 'Line too long', true));
        else await this.execute(line.bytes);
        if (this.badCommands >= this.config.limits.maxBadCommands) this.close('4.7.0', 'Too many errors, closing connection');
        if (this.pendingShutdown !== null && !this.closed) this.close('4.3.2', this.pendingShutdown);
      }
      await this.flush();
      this.transport.finish();
    } finally {
      // A transaction cut off by the client going away: discard its staged chunks.
      await resetTransaction(this).catch((err: unknown) => this.log.warn({ err }, 'discarding a transaction failed'));
      this.log.info({ remote: this.remote }, 'disconnect');
    }
  }

  private async execute(bytes: Buffer): Promise<void> {
    const text = bytes.toString('utf8');
    this.trace?.client(traceLine(`${text}\r\n`));
    const m = /^([A-Za-z]+)(?: (.*))?$/s.exec(text);
    const name = m?.[1]?.toUpperCase() ?? '';
    const spec = COMMANDS.get(name);
    try {
      if (!spec) throw new LmtpError(500, '5.5.1', 'Command unrecognized', true);
      const args: unknown = spec.parse(m?.[2] ?? '');
      const state = this.state.kind;
      if (!spec.states.includes(state)) {
        const hint = state === 'connected' ? 'Send LHLO first' : state === 'ready' ? 'Send MAIL first' : 'Nested MAIL command';
        throw new LmtpError(503, '5.5.1', hint, true);
      }
      await spec.run(this, args);
    } catch (err) {
      this.fail(err);
    }
  }

  /** The one catch point: a reply for an LmtpError, 451 4.3.0 for anything unexpected (logged). */
  private fail(err: unknown): void {
    if (err instanceof LmtpError) {
      if (err.badCommand) this.badCommands++;
      this.reply(err.code, err.enhanced, err.message);
      return;
    }
    this.log.error({ err }, 'LMTP command failed');
    this.reply(451, '4.3.0', 'Temporary failure, try again later');
  }
}
