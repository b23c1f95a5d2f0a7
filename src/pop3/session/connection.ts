/**
 * One POP3 connection: reads command lines, runs them one at a time in the
 * order received, and writes responses, over the shared transport
 * (net/transport.ts: STLS upgrade, batching, backpressure, timeouts).
 *
 * Invariants:
 * - Commands run one at a time, in order; responses stay in order
 *   (RFC 2449 §6.6 PIPELINING). Lines that arrive while a command runs wait
 *   in the line buffer; the socket is paused while too much input waits.
 * - Input is bounded: lines longer than their limit (a few KB before login,
 *   more for AUTH, limits.maxLineLength after; see lineLimit) get -ERR and
 *   are skipped without being buffered; the session goes on.
 * - Bytes pipelined behind STLS are discarded (RFC 2595 §4: command injection).
 * - Only QUIT removes messages: a dropped connection, a timeout or a server
 *   shutdown ends the session without the UPDATE state (RFC 1939 §3, §6).
 * - A failure in the middle of a multi-line response cannot be told to the
 *   client (the "+OK" is out): the connection is closed instead.
 * - The trace is told each command line as parsed, its secret words hidden
 *   as its spec declares (`secretAfterWords`, `secretResponses`), and each
 *   response as written, RETR/TOP contents as their size. Before login, a
 *   line that is not a known command is hidden whole.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { CredentialCache } from '../../auth/credential-cache.js';
import type { AuthThrottle } from '../../auth/throttle.js';
import type { OAuthVerifier } from '../../auth/oauth/token-verifier.js';
import type { Config } from '../../config/schema.js';
import { protocolTrace, sessionLogger } from '../../log.js';
import type { CertificateSource } from '../../net/certificates.js';
import { LineBuffer, type LineEvent } from '../../net/line-buffer.js';
import type { TlsFailureLog } from '../../net/tls-handshake.js';
import { LoginSession, loginTransport } from '../../net/login-session.js';
import type { Transport } from '../../net/transport.js';
import { trafficOf, type CommandRecorder, type CommandResult } from '../../metrics/metrics.js';
import { HIDDEN, type TraceSink, TraceText, traceLine, traceResponseLine } from '../../net/trace.js';
import { StoreError, type Account, type MailStore } from '../../store/types.js';
import { capabilityList } from '../capabilities.js';
import { COMMANDS } from '../commands/registry.js';
import { splitWords, type AnyCommand } from '../commands/spec.js';
import { badCommand, Pop3Error } from '../errors.js';
import { errLine, okLine, TERMINATOR } from '../wire/response.js';
import { Maildrop } from './maildrop.js';
import type { MessageSizes } from './message-sizes.js';
import type { SessionInfo } from '../../net/live-sessions.js';
import type { Pop3Session } from './session.js';
import type { Pop3State } from './state.js';

/** RFC 2449 §4: commands of up to 255 octets must be accepted, whatever the configured limit. */
const MIN_LINE_LENGTH = 255;

/** Shared services a POP3 connection needs. */
export interface Pop3Deps {
  store: MailStore;
  /** The process-wide POP3 size cache. */
  sizes: MessageSizes;
  config: Config;
  log: Logger;
  throttle: AuthThrottle;
  credentials: CredentialCache;
  /** Bearer-token checks, or null when OAuth is off. */
  oauth: OAuthVerifier | null;
  /** Where STLS handshakes get their certificate. */
  certificates: CertificateSource;
  /** Failed STLS handshakes are reported here (rate-limited). */
  tlsFailures?: TlsFailureLog;
  /** Called once when the session has ended, after its last store call (the server tracks sessions for shutdown). */
  onClose(conn: Pop3Connection): void;
  /** Called once the session has logged in (the server follows its credential: server/credential-revocation.ts). */
  onLogin?(conn: Pop3Connection): void;
  /** Results and latencies of POP3 commands, by the command table's names (a no-op with metrics off). */
  commandMetrics: CommandRecorder;
}

/** One POP3 client connection. */
export class Pop3Connection extends LoginSession implements Pop3Session {
  readonly store: MailStore;
  readonly config: Config;
  readonly log: Logger;
  readonly throttle: AuthThrottle;
  readonly credentials: CredentialCache;
  readonly oauth: OAuthVerifier | null;
  readonly remoteAddress: string;
  state: Pop3State = { kind: 'authorization', user: null };

  protected readonly transport: Transport;
  private readonly reader: LineBuffer;
  /** Waiting for a SASL response line (see lineLimit). */
  private inSasl = false;
  /** Waiting for client input, so a shutdown notice cannot cut a response short. */
  private awaitingInput = false;
  private pendingShutdown: string | null = null;
  /** Inside a multi-line response: an error now can only close the connection. */
  private inMultiline = false;
  private badCommands = 0;
  /** The snapshot once logged in; kept past the TRANSACTION state so \Seen flags are stored whatever ends the session. */
  private maildrop: Maildrop | null = null;
  /** The protocol trace, or null when tracing is off. */
  private readonly trace: TraceSink | null;
  /** The running command's responses are secret in the trace (its spec's `secretResponses`). */
  private responsesSecret = false;
  /** Message data written in the current multi-line response, traced as its size when it ends. */
  private messageOctets = 0;

  constructor(
    socket: Socket,
    private readonly deps: Pop3Deps,
    /** `remoteAddress`: the client's address as the listener found it (PROXY protocol aware). */
    listener: { implicitTls: boolean; remoteAddress: string },
  ) {
    super();
    this.store = deps.store;
    this.config = deps.config;
    this.log = sessionLogger(deps.log, this.id, { protocol: 'pop3' });
    this.throttle = deps.throttle;
    this.credentials = deps.credentials;
    this.oauth = deps.oauth;
    this.remoteAddress = listener.remoteAddress;
    this.trace = this.config.log.trace ? protocolTrace(this.log) : null;
    this.reader = new LineBuffer((head) => this.lineLimit(head));
    // RFC 1939 §3 sets no login deadline; a pre-login session is bounded like IMAP's.
    this.transport = loginTransport(socket, deps, {
      log: this.log,
      secure: listener.implicitTls,
      traffic: trafficOf('pop3'),
      timeoutMs: this.timeoutMs(),
      framer: () => this.reader,
      end: (text) => this.end(text),
    });
  }

  /** RFC 1939 §3: the autologout timer; before login the shorter pre-auth limit applies. */
  private timeoutMs(): number {
    const l = this.config.limits;
    return (this.state.kind === 'transaction' ? l.idleTimeoutSeconds : l.preAuthTimeoutSeconds) * 1000;
  }

  get congested(): boolean {
    return this.transport.congested;
  }

  capabilities(): string[] {
    return capabilityList(this);
  }

  // ---- output ----

  ok(text: string): void {
    this.write(okLine(text));
  }

  beginMultiline(text: string): void {
    this.ok(text);
    this.inMultiline = true;
  }

  endMultiline(): void {
    if (this.messageOctets > 0) this.trace?.server(new TraceText().messageData(this.messageOctets).take());
    this.messageOctets = 0;
    this.write(TERMINATOR);
    this.inMultiline = false;
  }

  write(bytes: Buffer): void {
    this.transport.write(bytes);
    this.trace?.server(traceLine(bytes));
  }

  writeMessageData(bytes: Buffer): void {
    this.transport.write(bytes);
    if (this.trace) this.messageOctets += bytes.length;
  }

  flush(): Promise<void> {
    return this.transport.flush();
  }

  describe(): SessionInfo {
    return this.liveSession('pop3', this.state.kind === 'transaction' ? this.state.account : null);
  }

  /** Server shutdown or a kick: "-ERR" and close now when idle, else right after the command in progress. POP3 has no BYE. */
  shutdown(reason: string): void {
    if (this.awaitingInput) this.end(reason);
    else this.pendingShutdown = reason;
  }

  /** Sends an unsolicited -ERR and closes without the UPDATE state (timeouts, shutdown, abuse). */
  private end(text: string): void {
    if (this.transport.ended) return;
    // In the middle of a message the -ERR would read as message text: just close.
    if (!this.inMultiline) this.write(errLine(null, text));
    this.state = { kind: 'update' };
    this.transport.end();
  }

  // ---- input ----

  /** The next line; while none is waiting, sends the queued output and waits. */
  private async nextEvent(): Promise<LineEvent | null> {
    for (;;) {
      // Nothing after QUIT is read (RFC 1939 §6), even when pipelined.
      if (this.state.kind === 'update') return null;
      if (this.pendingShutdown !== null) {
        this.end(this.pendingShutdown);
        return null;
      }
      // Pipelined commands are answered in batches, but never faster than the client reads.
      if (this.transport.congested) await this.flush();
      const ev = this.reader.nextLine();
      if (ev) return ev;
      if (this.closed) return null;
      await this.flush();
      if (this.reader.hasLine || this.closed) continue;
      this.awaitingInput = true;
      await this.transport.input(this.reader.buffered);
      this.awaitingInput = false;
    }
  }

  /** Stores the \Seen flags of messages retrieved so far; a failure is logged, never fatal. */
  private async saveSeen(): Promise<void> {
    if (!this.maildrop) return;
    try {
      await this.maildrop.saveSeen();
    } catch (err) {
      this.log.error({ err }, 'cannot store \\Seen for retrieved messages');
    }
  }

  /**
   * Octets the next line may hold. Before login a few KB (limits.pre-auth-command-size), but
   * an AUTH line and SASL responses get limits.pre-auth-sasl-size so OAuth tokens fit
   * (RFC 5034 §4 lets those exceed RFC 2449 §4's 255 octets); after login limits.max-line-length.
   */
  private lineLimit(head: Buffer): number {
    const limits = this.config.limits;
    if (this.state.kind === 'transaction') return Math.max(MIN_LINE_LENGTH, limits.maxLineLength);
    if (this.inSasl || /^AUTH( |\r|\n|$)/i.test(head.toString('latin1'))) return limits.preAuthSaslSize;
    return Math.max(MIN_LINE_LENGTH, limits.preAuthCommandSize);
  }

  async continuation(challenge: string): Promise<string | null> {
    this.write(Buffer.from(`+ ${challenge}\r\n`));
    await this.flush();
    this.inSasl = true;
    const ev = await this.nextEvent().finally(() => (this.inSasl = false));
    if (!ev) return null;
    if (ev.type === 'too-long') {
      this.trace?.client(traceLine(`${this.responsesSecret ? HIDDEN : ''} [line too long, not read]\r\n`));
      throw badCommand('SASL response too long');
    }
    this.trace?.client(traceResponseLine(ev.bytes, this.responsesSecret));
    return ev.bytes.toString('latin1');
  }

  async startTls(): Promise<void> {
    // RFC 2595 §4: whatever the client pipelined after STLS was sent in the clear: discard it.
    if (!(await this.transport.startTls(this.deps.certificates, () => this.reader.clear()))) return;
    // RFC 2595 §4: the session starts over; a USER given before STLS is forgotten.
    this.state = { kind: 'authorization', user: null };
  }

  async login(account: Account, credential = 'password'): Promise<void> {
    this.credential = credential;
    const maildrop = await Maildrop.open(this.deps, account.id);
    this.maildrop = maildrop;
    this.state = { kind: 'transaction', account, maildrop };
    this.transport.loggedIn();
    this.transport.setTimeout(this.timeoutMs());
    this.log.info({ user: account.name, messages: maildrop.count }, 'login');
    this.deps.onLogin?.(this);
  }

  /** Runs the connection until it closes. */
  async run(): Promise<void> {
    // RFC 1939 §4: the greeting. No APOP timestamp: APOP is not offered.
    this.ok('mailkeep POP3 ready');
    this.log.info({ remote: this.remoteAddress, tls: this.secure }, 'connect');
    try {
      for (;;) {
        const ev = await this.nextEvent();
        if (!ev) break;
        if (ev.type === 'too-long') {
          this.trace?.client(traceLine(`${this.state.kind === 'authorization' ? `${HIDDEN} ` : ''}[line too long, not read]\r\n`));
          this.fail(badCommand('Line too long'));
        } else await this.execute(ev.bytes);
      }
    } finally {
      // No UPDATE state without QUIT: only the \Seen flags of complete RETRs are kept.
      await this.saveSeen();
      await this.flush();
      this.transport.finish();
      this.log.info({ remote: this.remoteAddress }, 'disconnect');
      // Only now: server shutdown waits for this before closing the store.
      this.deps.onClose(this);
    }
  }

  // ---- command execution ----

  private async execute(line: Buffer): Promise<void> {
    const text = line.toString('utf8');
    const space = text.indexOf(' ');
    const keyword = (space < 0 ? text : text.slice(0, space)).toUpperCase();
    const started = performance.now();
    const spec = COMMANDS.get(keyword);
    // Before login an unknown keyword may be a password typed on the wrong line: it is not logged.
    const logged = spec?.name ?? (this.state.kind === 'authorization' ? '(unknown)' : keyword.slice(0, 16));
    if (this.trace) this.trace.client(this.traceCommand(text, space, spec));
    this.responsesSecret = spec?.secretResponses === true;
    try {
      if (!spec) throw badCommand(keyword === '' ? 'Empty command' : 'Unknown command');
      const args = spec.parse(space < 0 ? '' : text.slice(space + 1));
      if (!spec.states.includes(this.state.kind)) throw badCommand(stateError(this.state.kind, spec.name));
      this.command = spec.name;
      await spec.run(this, args);
      this.badCommands = 0;
      this.deps.commandMetrics.record(spec.name, 'OK', started);
      this.log.debug({ cmd: spec.name, ms: Math.round(performance.now() - started) }, 'command');
    } catch (e) {
      this.deps.commandMetrics.record(spec?.name ?? null, this.fail(e, logged), started);
    } finally {
      this.command = null;
    }
  }

  /** A command line as the trace shows it: the spec's secret words hidden; before login, an unknown line hidden whole. */
  private traceCommand(text: string, space: number, spec: AnyCommand | undefined): string {
    const trace = new TraceText();
    if (!spec && this.state.kind === 'authorization') return trace.secret().text('\r\n').take();
    const shown = spec?.secretAfterWords;
    if (shown === undefined || space < 0) return trace.text(text).text('\r\n').take();
    const args = splitWords(text.slice(space + 1));
    trace.text(text.slice(0, space));
    for (const word of args.slice(0, shown)) trace.text(' ').text(word);
    if (args.length > shown) trace.text(' ').secret();
    return trace.text('\r\n').take();
  }

  /** The one catch point: an -ERR line, or closing when the response was already under way; BAD for a bad command, else NO. */
  private fail(e: unknown, keyword?: string): CommandResult {
    if (this.inMultiline) {
      this.log.error({ err: e, cmd: keyword }, 'failed in the middle of a response; closing');
      this.inMultiline = false;
      this.transport.destroy();
      return 'NO';
    }
    if (e instanceof Pop3Error) {
      this.log.info({ cmd: keyword ?? null, code: e.code, text: e.message }, 'command failed');
      this.write(errLine(e.code, e.message));
      if (e.badCommand && ++this.badCommands >= this.config.limits.maxBadCommands) this.end('Too many bad commands');
      return e.badCommand ? 'BAD' : 'NO';
    }
    if (e instanceof StoreError) {
      this.log.info({ cmd: keyword, code: e.code, text: e.message }, 'command failed');
      this.write(errLine('SYS/TEMP', e.message));
      return 'NO';
    }
    this.log.error({ err: e, cmd: keyword }, 'command failed unexpectedly');
    this.write(errLine('SYS/TEMP', 'Internal server error, logged for the administrator'));
    return 'NO';
  }
}

function stateError(state: Pop3State['kind'], name: string): string {
  if (state === 'authorization') return `${name} is not allowed before login`;
  return `${name} is only allowed before login`;
}
