/**
 * One ManageSieve connection (RFC 5804): reads commands — lines, with
 * literals between them — runs them one at a time in order, and writes
 * responses, over the shared transport (net/transport.ts: STARTTLS,
 * batching, backpressure, timeouts).
 *
 * Invariants:
 * - Input is bounded: a line longer than its limit (limits.pre-auth-command-size
 *   before login, pre-auth-sasl-size for AUTHENTICATE and SASL responses,
 *   max-line-length after) is skipped unbuffered; a literal over its limit
 *   ([sieve] max-script-size for scripts, max-literal-size otherwise,
 *   pre-auth-sasl-size before login) is read and dropped, never buffered;
 *   a command holds at most MAX_LITERALS literals; at most
 *   MAX_COMMANDS_BEFORE_LOGIN commands run before login.
 * - Bytes pipelined behind STARTTLS are discarded (RFC 5804 §2.2, command injection).
 * - Nothing after LOGOUT is read (RFC 5804 §2.3).
 * - The trace shows commands with their literals as sizes; AUTHENTICATE's
 *   arguments after the mechanism and the SASL responses are hidden.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { CredentialCache } from '../../auth/credential-cache.js';
import type { OAuthVerifier } from '../../auth/oauth/token-verifier.js';
import type { AuthThrottle } from '../../auth/throttle.js';
import type { Config } from '../../config/schema.js';
import { protocolTrace, sessionLogger } from '../../log.js';
import type { CertificateSource } from '../../net/certificates.js';
import { LineBuffer, type LineEvent } from '../../net/line-buffer.js';
import type { SessionInfo } from '../../net/live-sessions.js';
import type { TlsFailureLog } from '../../net/tls-handshake.js';
import { LoginSession, loginTransport } from '../../net/login-session.js';
import type { Transport } from '../../net/transport.js';
import { type TraceSink, TraceText, traceLine } from '../../net/trace.js';
import { type Account, type MailStore, StoreError } from '../../store/types.js';
import { capabilityList } from '../capabilities.js';
import { COMMANDS } from '../commands/registry.js';
import type { AnyCommand } from '../commands/spec.js';
import { badCommand, failure, ManageSieveError } from '../errors.js';
import { capabilityLine, encodeString, statusLine } from '../wire/response.js';
import { type Token, tokenizeLine } from '../wire/tokens.js';
import type { SieveSession } from './session.js';
import type { SieveSessionState } from './state.js';
import { trafficOf } from '../../metrics/metrics.js';

/** No command takes more than two strings; a third literal is an abuse. */
const MAX_LITERALS = 3;
/** Commands a client may send before it logs in (CAPABILITY, STARTTLS, a few AUTHENTICATE tries). */
const MAX_COMMANDS_BEFORE_LOGIN = 50;
/** Octets discarded per read while dropping an oversized literal. */
const DROP_CHUNK = 64 * 1024;

/** Shared services a ManageSieve connection needs. */
export interface ManageSieveDeps {
  store: MailStore;
  config: Config;
  log: Logger;
  throttle: AuthThrottle;
  credentials: CredentialCache;
  /** Bearer-token checks, or null when OAuth is off. */
  oauth: OAuthVerifier | null;
  /** Where STARTTLS handshakes get their certificate. */
  certificates: CertificateSource;
  /** Failed STARTTLS handshakes are reported here (rate-limited). */
  tlsFailures?: TlsFailureLog;
  /** Called once when the session has ended, after its last store call. */
  onClose(conn: ManageSieveConnection): void;
}

/** A command as read: its tokens, or why it cannot run (a line or literal over its limit). */
type ReadCommand = { tokens: Token[]; tooBig: null } | { tokens: Token[]; tooBig: 'line' | 'literal' };

/** One ManageSieve client connection. */
export class ManageSieveConnection extends LoginSession implements SieveSession {
  readonly store: MailStore;
  readonly config: Config;
  readonly log: Logger;
  readonly throttle: AuthThrottle;
  readonly credentials: CredentialCache;
  readonly oauth: OAuthVerifier | null;
  readonly remoteAddress: string;
  state: SieveSessionState = { kind: 'nonauth' };

  protected readonly transport: Transport;
  private readonly reader: LineBuffer;
  /** Reading an AUTHENTICATE line or a SASL response (the larger pre-login limit applies). */
  private inSasl = false;
  private awaitingInput = false;
  private pendingShutdown: string | null = null;
  private badCommands = 0;
  private commandsBeforeLogin = 0;
  private readonly trace: TraceSink | null;

  constructor(
    socket: Socket,
    private readonly deps: ManageSieveDeps,
    /** `remoteAddress`: the client's address as the listener found it (PROXY protocol aware). */
    listener: { remoteAddress: string },
  ) {
    super();
    this.store = deps.store;
    this.config = deps.config;
    this.log = sessionLogger(deps.log, this.id, { protocol: 'managesieve' });
    this.throttle = deps.throttle;
    this.credentials = deps.credentials;
    this.oauth = deps.oauth;
    this.remoteAddress = listener.remoteAddress;
    this.trace = this.config.log.trace ? protocolTrace(this.log) : null;
    this.reader = new LineBuffer((head) => this.lineLimit(head));
    this.transport = loginTransport(socket, deps, {
      log: this.log,
      secure: false,
      traffic: trafficOf('managesieve'),
      timeoutMs: this.timeoutMs(),
      framer: () => this.reader,
      end: (text) => this.end(text),
    });
  }

  private timeoutMs(): number {
    const l = this.config.limits;
    return (this.state.kind === 'auth' ? l.idleTimeoutSeconds : l.preAuthTimeoutSeconds) * 1000;
  }

  // ---- output ----

  write(bytes: Buffer): void {
    this.transport.write(bytes);
    this.trace?.server(traceLine(bytes));
  }

  ok(text: string, code: string | null = null, codeArg?: string | Buffer): void {
    this.write(statusLine('OK', code, text, codeArg));
  }

  writeCapabilities(): void {
    for (const [name, value] of capabilityList(this)) this.write(capabilityLine(name, value));
  }

  describe(): SessionInfo {
    return this.liveSession('managesieve', this.state.kind === 'auth' ? this.state.account : null);
  }

  /** Server shutdown or a kick: BYE now when idle, else right after the command in progress. */
  shutdown(reason: string): void {
    if (this.awaitingInput) this.end(reason);
    else this.pendingShutdown = reason;
  }

  /** Sends BYE and closes (RFC 5804 §1.2: the server may end the connection with BYE at any time). */
  private end(text: string): void {
    if (this.transport.ended) return;
    this.write(statusLine('BYE', null, text));
    this.state = { kind: 'logout' };
    this.transport.end();
  }

  // ---- input ----

  /** The next line; while none is waiting, sends the queued output and waits. Null at the end. */
  private async nextLine(): Promise<LineEvent | null> {
    for (;;) {
      if (this.state.kind === 'logout') return null;
      if (this.pendingShutdown !== null) {
        this.end(this.pendingShutdown);
        return null;
      }
      if (this.transport.congested) await this.transport.flush();
      const ev = this.reader.nextLine();
      if (ev) return ev;
      if (this.closed) return null;
      await this.transport.flush();
      if (this.reader.hasLine || this.closed) continue;
      this.awaitingInput = true;
      await this.transport.input(this.reader.buffered);
      this.awaitingInput = false;
    }
  }

  /** Exactly `size` raw octets (a literal), or null when the connection closed first; with `keep` false they are dropped as they come. */
  private async literal(size: number, keep: boolean): Promise<Buffer | null> {
    const parts: Buffer[] = [];
    let left = size;
    while (left > 0) {
      const got = this.reader.take(keep ? left : Math.min(left, DROP_CHUNK));
      if (got.length > 0) {
        if (keep) parts.push(got);
        left -= got.length;
        continue;
      }
      if (this.closed) return null;
      this.awaitingInput = true;
      await this.transport.input(this.reader.buffered);
      this.awaitingInput = false;
    }
    return Buffer.concat(parts);
  }

  /** Octets the next line may hold (see the invariants). */
  private lineLimit(head: Buffer): number {
    const limits = this.config.limits;
    if (this.state.kind === 'auth') return limits.maxLineLength;
    if (this.inSasl || /^AUTHENTICATE( |\r|\n|$)/i.test(head.toString('latin1'))) return limits.preAuthSaslSize;
    return limits.preAuthCommandSize;
  }

  /** Octets a literal of command `name` may hold. */
  private literalLimit(spec: AnyCommand | undefined): number {
    if (this.state.kind !== 'auth') return this.config.limits.preAuthSaslSize;
    return spec?.literalLimit === 'script' ? this.config.sieve.maxScriptSize : this.config.limits.maxLiteralSize;
  }

  /**
   * Reads one command: its first line, then after each literal the literal and the next line.
   * Null when the connection ended. `spec` decides the literal limit once the name is known.
   */
  private async readCommand(first: LineEvent, trace: TraceText): Promise<ReadCommand | null> {
    let ev: LineEvent | null = first;
    const tokens: Token[] = [];
    let tooBig: ReadCommand['tooBig'] = null;
    let literals = 0;
    for (let continued = false; ; continued = true) {
      if (!ev) return null;
      if (ev.type === 'too-long') return { tokens, tooBig: 'line' };
      let line;
      try {
        line = tokenizeLine(ev.bytes, continued);
      } catch (err) {
        // A syntax error ends the command here; its text is the error.
        if (tooBig) return { tokens, tooBig };
        throw err;
      }
      tokens.push(...line.tokens);
      this.traceTokens(trace, line.tokens, continued);
      if (line.literal === null) return tooBig ? { tokens, tooBig } : { tokens, tooBig: null };
      if (++literals > MAX_LITERALS) return { tokens, tooBig: 'literal' };
      const first = tokens[0];
      const spec = first?.kind === 'atom' ? COMMANDS.get(first.text.toUpperCase()) : undefined;
      const keep = tooBig === null && line.literal <= this.literalLimit(spec);
      if (!keep) tooBig = 'literal';
      const bytes = await this.literal(line.literal, keep);
      if (bytes === null) return null;
      // A SASL literal is a secret: not even its size is shown.
      if (this.inSasl) trace.text(' ').secret();
      else trace.text(` {${line.literal}}`);
      if (keep) tokens.push({ kind: 'string', bytes });
      ev = await this.nextLine();
    }
  }

  /** Adds tokens to a command's trace entry: AUTHENTICATE's arguments after the mechanism hidden, others as read. */
  private traceTokens(trace: TraceText, tokens: readonly Token[], continued: boolean): void {
    if (!this.trace) return;
    let index = continued ? 1 : 0;
    for (const t of tokens) {
      if (index > 0) trace.text(' ');
      if (index >= 2 && this.inSasl) trace.secret();
      else if (t.kind === 'atom') trace.text(t.text);
      else trace.bytes(encodeString(t.bytes));
      index++;
    }
  }

  async continuation(challenge: string): Promise<string | null> {
    this.write(Buffer.concat([encodeString(challenge), Buffer.from('\r\n')]));
    await this.transport.flush();
    this.inSasl = true;
    const read = await this.nextLine()
      .then((ev) => (ev ? this.readCommand(ev, new TraceText()) : null))
      .finally(() => (this.inSasl = false));
    if (!read) return null;
    this.trace?.client(new TraceText().secret().text('\r\n').take());
    // RFC 5804 §2.1: each response is one string.
    const [token, ...rest] = read.tokens;
    if (read.tooBig) throw failure('SASL response too long');
    if (token?.kind !== 'string' || rest.length > 0) throw badCommand('Expected the SASL response as one string');
    return token.bytes.toString('latin1');
  }

  async startTls(): Promise<void> {
    // RFC 5804 §2.2: whatever the client pipelined after STARTTLS came in the clear: discard it.
    if (!(await this.transport.startTls(this.deps.certificates, () => this.reader.clear()))) return;
    // RFC 5804 §2.2: the capabilities again, then OK.
    this.writeCapabilities();
    this.ok('TLS negotiation successful');
  }

  login(account: Account, credential = 'password'): void {
    this.credential = credential;
    this.state = { kind: 'auth', account };
    this.transport.loggedIn();
    this.transport.setTimeout(this.timeoutMs());
    this.log.info({ user: account.name }, 'login');
  }

  logout(): void {
    this.state = { kind: 'nonauth' };
    this.transport.setTimeout(this.timeoutMs());
  }

  /** Runs the connection until it closes. */
  async run(): Promise<void> {
    // RFC 5804 §1.7: the capabilities, then OK, on connect.
    this.writeCapabilities();
    this.ok('mailkeep ManageSieve ready');
    this.log.info({ remote: this.remoteAddress, tls: this.secure }, 'connect');
    try {
      for (;;) {
        const ev = await this.nextLine();
        if (!ev) break;
        await this.execute(ev);
      }
    } finally {
      await this.transport.flush();
      this.transport.finish();
      this.log.info({ remote: this.remoteAddress }, 'disconnect');
      this.deps.onClose(this);
    }
  }

  // ---- command execution ----

  private async execute(first: LineEvent): Promise<void> {
    const started = Date.now();
    const trace = new TraceText();
    let spec: AnyCommand | undefined;
    try {
      if (this.state.kind !== 'auth' && ++this.commandsBeforeLogin > MAX_COMMANDS_BEFORE_LOGIN) {
        this.end('Too many commands without logging in');
        return;
      }
      // An empty line between commands is tolerated, as clients send one after a literal script.
      if (first.type === 'line' && first.bytes.length === 0) return;
      this.inSasl = first.type === 'line' && /^AUTHENTICATE /i.test(first.bytes.subarray(0, 13).toString('latin1'));
      const read = await this.readCommand(first, trace).finally(() => (this.inSasl = false));
      if (this.trace) this.trace.client(trace.text('\r\n').take());
      if (!read) return;
      const [name, ...args] = read.tokens;
      spec = name?.kind === 'atom' ? COMMANDS.get(name.text.toUpperCase()) : undefined;
      if (read.tooBig === 'line') throw badCommand('Line too long');
      if (read.tooBig === 'literal') {
        if (spec?.literalLimit === 'script') throw failure('The script is larger than the server allows', 'QUOTA/MAXSIZE');
        throw badCommand('Literal too big');
      }
      if (!spec) throw badCommand(name === undefined ? 'Empty command' : 'Unknown command');
      const parsed = spec.parse(args);
      if (!spec.states.includes(this.state.kind)) throw badCommand(stateError(this.state.kind, spec.name));
      this.command = spec.name;
      await spec.run(this, parsed);
      this.badCommands = 0;
      this.log.debug({ cmd: spec.name, ms: Date.now() - started }, 'command');
    } catch (e) {
      if (this.trace && !trace.empty) this.trace.client(trace.text('\r\n').take());
      this.fail(e, spec?.name);
    } finally {
      this.command = null;
    }
  }

  /** The one catch point: a NO line (RFC 5804 §1.2), or NO (TRYLATER) for a store failure. */
  private fail(e: unknown, keyword?: string): void {
    if (e instanceof ManageSieveError) {
      this.log.info({ cmd: keyword ?? null, code: e.code, text: e.message }, 'command failed');
      this.write(statusLine('NO', e.code, e.message));
      if (e.badCommand && ++this.badCommands >= this.config.limits.maxBadCommands) this.end('Too many bad commands');
      return;
    }
    if (e instanceof StoreError) {
      this.log.info({ cmd: keyword, code: e.code, text: e.message }, 'command failed');
      this.write(statusLine('NO', null, e.message));
      return;
    }
    this.log.error({ err: e, cmd: keyword }, 'command failed unexpectedly');
    this.write(statusLine('NO', 'TRYLATER', 'Internal server error, logged for the administrator'));
  }
}

function stateError(state: SieveSessionState['kind'], name: string): string {
  if (state === 'nonauth') return `${name} is not allowed before login`;
  return `${name} is only allowed before login`;
}
