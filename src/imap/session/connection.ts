/**
 * One IMAP connection: the session state commands see (ImapSession), over
 * the shared transport (net/transport.ts). It runs framed commands in order
 * through dispatch.ts, hands literals to literal-intake.ts, and reports
 * mailbox changes through the one sync step.
 *
 * Invariants:
 * - Commands run one at a time, in the order received; responses stay in order.
 * - Input is bounded: the framer limits lines and commands; the transport
 *   pauses the socket while unprocessed input exceeds a cap.
 * - A literal is refused before its bytes are read when it is over the limit.
 * - Bytes pipelined behind STARTTLS are discarded (RFC 9051 §6.2.1).
 * - The trace is told each command as framed (command-trace.ts: secrets and
 *   message literals hidden by what the command spec declares) and each
 *   response as written, FETCH's message data as its size.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { CredentialCache } from '../../auth/credential-cache.js';
import type { AuthThrottle } from '../../auth/throttle.js';
import type { OAuthVerifier } from '../../auth/oauth/token-verifier.js';
import type { Uid } from '../../ids.js';
import type { Account, MailStore, NewMessage } from '../../store/types.js';
import { trafficOf, type CommandRecorder } from '../../metrics/metrics.js';
import { StoreError } from '../../store/types.js';
import { protocolTrace } from '../../log.js';
import type { SyncMode } from './state.js';
import { capabilityList } from '../capabilities.js';
import { CommandFramer, tagOf, type FrameEvent, type LiteralAnnounce, type Segment } from '../wire/framer.js';
import type { EncodeMode } from '../../syntax/imap-string.js';
import type { Enabled, ImapSession } from './session.js';
import type { SessionState } from './state.js';
import { MailboxGone, syncSelected } from './sync.js';
import { SessionNotifier } from '../notify/notifier.js';
import type { MailboxIndexCache } from './mailbox-index.js';
import type { MailboxNameCache } from './mailbox-names.js';
import type { CertificateSource } from '../../net/certificates.js';
import { LoginSession, loginTransport } from '../../net/login-session.js';
import type { Transport } from '../../net/transport.js';
import type { TlsFailureLog } from '../../net/tls-handshake.js';
import { execute, type CommandTable, type DispatchHost } from './dispatch.js';
import { LiteralIntake } from './literal-intake.js';
import { ResponseBatch } from '../../net/response-batch.js';
import { HIDDEN, type TraceSink, TraceText, traceLine, traceResponseLine } from '../../net/trace.js';
import type { AnyCommand } from '../commands/spec.js';
import type { SessionInfo } from '../../net/live-sessions.js';
import { traceCommand } from './command-trace.js';
import { framerLimits, inputLimit, overPreAuthBudget } from './pre-auth-budget.js';

/** Shared services a connection needs. */
export interface ConnectionDeps {
  store: MailStore;
  indexCache: MailboxIndexCache;
  mailboxNames: MailboxNameCache;
  config: Config;
  log: Logger;
  throttle: AuthThrottle;
  credentials: CredentialCache;
  /** Bearer-token checks, or null when OAuth is off. */
  oauth: OAuthVerifier | null;
  /** Where STARTTLS handshakes get their certificate. */
  certificates: CertificateSource;
  /** The command table (commands/registry.ts), injected so the session does not depend on its commands. */
  commands: CommandTable;
  /** Where command results and latencies are recorded (labelled by the names of `commands`). */
  commandMetrics: CommandRecorder;
  /** Failed STARTTLS handshakes are reported here (rate-limited). */
  tlsFailures?: TlsFailureLog;
  /** Connections that should end on shutdown register here. */
  onClose(conn: ImapConnection): void;
  /** Called once the session has logged in (the server follows its credential: server/credential-revocation.ts). */
  onLogin?(conn: ImapConnection): void;
}

/** One client connection. */
export class ImapConnection extends LoginSession implements ImapSession, DispatchHost {
  readonly store: MailStore;
  readonly indexCache: MailboxIndexCache;
  readonly mailboxNames: MailboxNameCache;
  readonly config: Config;
  readonly log: Logger;
  readonly throttle: AuthThrottle;
  readonly credentials: CredentialCache;
  readonly oauth: OAuthVerifier | null;
  readonly enabled: Enabled = new Set();
  readonly remoteAddress: string;
  state: SessionState = { kind: 'not-authenticated' };
  savedSearch: Uid[] | null = null;

  protected readonly transport: Transport;
  private framer: CommandFramer;
  private readonly intake: LiteralIntake;
  private changeListener: (() => void) | null = null;
  /** NOTIFY state and delivery (RFC 5465). */
  readonly notifier: SessionNotifier = new SessionNotifier(this);
  /** The run loop waits for a new command: NOTIFY may write now (RFC 5465 §3). */
  readyForCommand = false;
  private unsubscribe: (() => void) | null = null;
  private subscribedMailbox: number | null = null;
  /** Waiting for client input, so a BYE cannot cut a response short. */
  private awaitingInput = false;
  private pendingBye: string | null = null;
  /** The running command's tag and when progress was last reported (RFC 9585). */
  private progressTag: string | null = null;
  private progressAt = 0;
  /** The protocol trace, or null when tracing is off. */
  private readonly trace: TraceSink | null;
  /** The running command's responses are secret in the trace (its spec's `secretResponses`). */
  private responsesSecret = false;
  /** The client's last line was hidden whole: its tag, echoed in the tagged answer, may be a password. */
  private tagHidden = false;
  /** Tagged BADs in a row; too many end the session (limits.max-bad-commands). */
  private badCommands = 0;

  /** `listener.remoteAddress`: the client's address as the listener found it (PROXY protocol aware). */
  constructor(
    socket: Socket,
    private readonly deps: ConnectionDeps,
    listener: { implicitTls: boolean; remoteAddress: string },
  ) {
    super();
    this.store = deps.store;
    this.indexCache = deps.indexCache;
    this.mailboxNames = deps.mailboxNames;
    this.config = deps.config;
    this.throttle = deps.throttle;
    this.credentials = deps.credentials;
    this.oauth = deps.oauth;
    this.remoteAddress = listener.remoteAddress;
    this.log = deps.log.child({ session: this.id });
    this.framer = this.newFramer();
    this.intake = new LiteralIntake(this, deps.commands, () => this.transport.pause());
    this.trace = this.config.log.trace ? protocolTrace(this.log) : null;
    const limits = this.config.limits;
    this.transport = loginTransport(socket, deps, {
      log: this.log,
      secure: listener.implicitTls,
      traffic: trafficOf('imap'),
      timeoutMs: limits.preAuthTimeoutSeconds * 1000,
      framer: () => this.framer,
      onClosed: () => this.markClosed(),
      end: (text) => this.bye(text),
      idleText: 'Autologout; idle for too long',
    });
    this.transport.setInputLimit(inputLimit(limits, false) ?? undefined);
  }

  private get authed(): boolean {
    return this.state.kind === 'authenticated' || this.state.kind === 'selected';
  }

  private newFramer(): CommandFramer {
    return new CommandFramer(framerLimits(this.config.limits, this.authed));
  }

  private markClosed(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.notifier.close();
    this.intake.abortAll();
    this.deps.onClose(this);
  }

  get encodeMode(): EncodeMode {
    return { utf8: this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2') };
  }

  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }

  /** Past login (the trace shows unknown lines as received only then). */
  private get loggedIn(): boolean {
    return this.state.kind === 'authenticated' || this.state.kind === 'selected';
  }

  capabilities(): string[] {
    return capabilityList(this);
  }

  // ---- output ----

  untagged(line: Buffer | string): void {
    // Text joins the batch's text run: no buffer per line.
    if (typeof line === 'string') {
      this.transport.writeText(`* ${line}\r\n`);
      this.trace?.server(traceLine(`* ${line}\r\n`));
    } else {
      this.write(Buffer.concat([Buffer.from('* '), line, Buffer.from('\r\n')]));
    }
  }

  write(bytes: Buffer): void {
    this.transport.write(bytes);
    this.trace?.server(traceLine(bytes));
  }

  responseBatch(): ResponseBatch {
    return new ResponseBatch(this.trace ? new TraceText() : null);
  }

  writeBatch(out: ResponseBatch): void {
    for (const bytes of out.take()) this.transport.write(bytes);
    if (this.trace && out.trace && !out.trace.empty) this.trace.server(out.trace.take());
  }

  whenWritten(): Promise<void> {
    return this.transport.whenWritten();
  }

  flush(): Promise<void> {
    return this.transport.flush();
  }

  flushNow(): boolean {
    return this.transport.flushNow();
  }

  backpressure(): Promise<void> {
    return this.transport.backpressure();
  }

  /** Switches both directions to raw DEFLATE after COMPRESS's tagged OK (RFC 4978 §3). */
  startCompression(): Promise<void> {
    return this.transport.startCompression(() => this.bye('Invalid compressed data'));
  }

  /** Whether COMPRESS is active. */
  get compressed(): boolean {
    return this.transport.compressed;
  }

  pipeFrom(source: NodeJS.ReadableStream, size: number): Promise<void> {
    this.trace?.server(new TraceText().messageData(size).take());
    return this.transport.pipeFrom(source);
  }

  /** Queues a tagged response; text that echoes client input never carries NUL, CR or LF (RFC 9051 §9 TEXT-CHAR). */
  tagged(tag: string, status: 'OK' | 'NO' | 'BAD', code: string | null | undefined, text: string): void {
    this.badCommands = status === 'BAD' ? this.badCommands + 1 : 0;
    const head = ` ${status} ${code ? `[${code}] ` : ''}`;
    const safe = text.replace(/[\0\r\n]/g, '?');
    this.transport.write(Buffer.from(`${tag}${head}${safe}\r\n`));
    // The answer to a line hidden whole may quote it (its tag, "Unknown command X"): hidden too.
    this.trace?.server(traceLine(this.tagHidden ? `${HIDDEN}${head}${HIDDEN}\r\n` : `${tag}${head}${safe}\r\n`));
  }

  describe(): SessionInfo {
    const st = this.state;
    const account = st.kind === 'authenticated' || st.kind === 'selected' ? st.account : null;
    return this.liveSession('imap', account, st.kind === 'selected' ? st.view.name : null);
  }

  /** Server shutdown or a kick: BYE now when waiting for the client (IDLE too), else right after the command in progress. */
  shutdown(reason: string): void {
    if (this.awaitingInput) this.bye(reason);
    else this.pendingBye = reason;
  }

  /** Sends BYE and closes (timeouts, shutdown, fatal input). */
  bye(text: string): void {
    if (this.closed) return;
    this.untagged(`BYE ${text}`);
    this.transport.end();
    this.state = { kind: 'logout' };
  }

  // ---- input ----

  private async nextEvent(): Promise<FrameEvent | null> {
    for (;;) {
      const ev = this.framer.next();
      // A dropped command's literals are skipped in batches, other sessions' work between them.
      if (ev?.type === 'skipped') {
        await nextTurn();
        continue;
      }
      if (ev) return ev;
      if (this.closed) return null;
      this.awaitingInput = true;
      await this.transport.input(this.framer.buffered);
      this.awaitingInput = false;
    }
  }

  /** Runs the connection until it closes. */
  async run(): Promise<void> {
    this.untagged(`OK [CAPABILITY ${this.capabilities().join(' ')}] mailkeep ready`);
    await this.flush();
    this.log.info({ remote: this.remoteAddress, tls: this.secure }, 'connect');
    let partial = false;
    while (!this.closed && this.state.kind !== 'logout') {
      this.readyForCommand = !partial;
      const ev = await this.nextEvent();
      this.readyForCommand = false;
      // A NOTIFY delivery started between commands finishes before anything else is written.
      await this.notifier.settled();
      if (!ev) break;
      partial = ev.type === 'literal' || ev.type === 'literal-chunk' || (partial && ev.type === 'literal-end');
      switch (ev.type) {
        case 'literal': {
          const refusal = this.intake.decide(ev.announce, this.framer);
          if (refusal) {
            this.traceClient(ev.announce.segments, ev.announce);
            this.tagged(refusal.tag, refusal.status, refusal.code, refusal.text);
          }
          break;
        }
        case 'literal-chunk':
          await this.intake.feed(ev.data);
          break;
        case 'literal-end':
          await this.intake.end(ev.id);
          break;
        case 'error':
          this.traceDropped(ev.tag, ev.reason);
          this.tagged(ev.tag ?? '*', 'BAD', 'TOOBIG', ev.reason === 'line-too-long' ? 'Command line too long' : 'Command too large');
          break;
        case 'command':
          this.traceClient(ev.segments);
          if (!this.authed && overPreAuthBudget(this.config.limits, ev.segments)) {
            const first = ev.segments[0];
            const tag = first?.kind === 'text' ? tagOf(Buffer.concat([first.bytes, Buffer.from(' ')])) : null;
            this.tagged(tag ?? '*', 'BAD', 'TOOBIG', `Command too big before login (limit ${this.config.limits.preAuthCommandSize} octets)`);
          } else await execute(this, this.deps.commands, this.intake, ev.segments, this.deps.commandMetrics);
          this.command = null;
          break;
      }
      await this.flush();
      if (this.pendingBye) this.bye(this.pendingBye);
      // Like POP3 and LMTP: a client that only sends garbage is not kept.
      else if (this.badCommands >= this.config.limits.maxBadCommands) this.bye('Too many invalid commands');
    }
    // LOGOUT (RFC 9051 §6.1.3): the server closes the connection after the tagged OK.
    this.transport.finish();
    this.log.info({ remote: this.remoteAddress }, 'disconnect');
  }

  /** Traces a framed command (or its first lines, before a refused literal). */
  private traceClient(segments: readonly Segment[], refused?: LiteralAnnounce): void {
    if (!this.trace) return;
    const entry = traceCommand(segments, this.deps.commands, this.loggedIn, refused);
    // A tag never starts with "*" (RFC 9051 §9 atom-specials): only a line hidden whole does.
    this.tagHidden = entry.startsWith(HIDDEN);
    this.trace.client(entry);
  }

  /** Traces a command the framer dropped unread; before login even its tag may be a password. */
  private traceDropped(tag: string | null, reason: 'line-too-long' | 'command-too-large'): void {
    if (!this.trace) return;
    this.tagHidden = !this.loggedIn;
    this.trace.client(traceLine(`${this.loggedIn ? (tag ?? '*') : HIDDEN} [${reason}, not read]\r\n`));
  }

  takeStagedMessage(streamId: number): Promise<Omit<NewMessage, 'flags' | 'internalDate'>> {
    return this.intake.take(streamId);
  }

  /** Waits for a whole line from the client (continuations, IDLE DONE). */
  async readLine(): Promise<Buffer | null> {
    for (;;) {
      const ev = await this.nextEvent();
      if (!ev) return null;
      if (ev.type === 'command') {
        const first = ev.segments[0];
        const line = ev.segments.length === 1 && first?.kind === 'text' ? first.bytes : Buffer.from('');
        this.trace?.client(traceResponseLine(line, this.responsesSecret));
        return line;
      }
      if (ev.type === 'literal') {
        // Continuation lines carry no literals (RFC 9051 §6.2.2, RFC 2177).
        this.framer.rejectLiteral();
        this.trace?.client(traceResponseLine(Buffer.from('[literal refused]'), this.responsesSecret));
        return Buffer.from('');
      }
      if (ev.type === 'error') {
        this.trace?.client(traceResponseLine(Buffer.from(`[${ev.reason}, not read]`), this.responsesSecret));
        return Buffer.from('');
      }
    }
  }

  async continuation(text: string): Promise<Buffer | null> {
    this.write(Buffer.from(`+ ${text}\r\n`));
    await this.flush();
    return this.readLine();
  }

  async startTls(): Promise<void> {
    // RFC 9051 §6.2.1: anything the client pipelined after STARTTLS is discarded. A failed handshake closes the connection.
    await this.transport.startTls(this.deps.certificates, () => (this.framer = this.newFramer()));
  }

  authenticated(account: Account, credential = 'password'): void {
    this.state = { kind: 'authenticated', account };
    this.credential = credential;
    const limits = this.config.limits;
    this.transport.loggedIn();
    this.transport.setTimeout(limits.idleTimeoutSeconds * 1000);
    this.transport.setInputLimit(inputLimit(limits, true) ?? undefined);
    this.framer.setLimits(framerLimits(limits, true));
    this.log.info({ user: account.name }, 'login');
    this.deps.onLogin?.(this);
  }

  commandStarted(tag: string, spec: AnyCommand): void {
    this.command = spec.name;
    this.responsesSecret = spec.secretResponses === true;
    this.progressTag = tag;
    this.progressAt = Date.now();
  }

  progress(done: number, goal: number | null): void {
    const now = Date.now();
    if (now - this.progressAt < this.config.imap.inProgressSeconds * 1000) return;
    if (goal !== null && done >= goal) return;
    this.progressAt = now;
    // RFC 9585 §4: a tag containing "]" is sent as NIL.
    const tag = this.progressTag && !this.progressTag.includes(']') ? `"${this.progressTag}"` : 'NIL';
    const text = goal ? `Processed ${Math.floor((done * 100) / goal)}% of the items` : `Processed ${done} items so far`;
    this.untagged(`OK [INPROGRESS (${tag} ${done} ${goal ?? 'NIL'})] ${text}`);
  }

  onMailboxChange(listener: (() => void) | null): void {
    this.changeListener = listener;
  }

  /** IDLE's wake-up while idling (NOTIFY delivers through it, RFC 5465 §4). */
  get idleWake(): (() => void) | null {
    return this.changeListener;
  }

  /** Keeps the change-bus subscription on the selected mailbox. */
  private followSelected(): void {
    const st = this.state;
    const mailboxId = st.kind === 'selected' ? st.view.mailboxId : null;
    if (mailboxId === this.subscribedMailbox) return;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.subscribedMailbox = mailboxId;
    if (st.kind === 'selected') {
      this.unsubscribe = this.store.bus.subscribe(st.account.id, st.view.mailboxId, () => this.changeListener?.());
    }
  }

  sync(mode: SyncMode, deferFlags = false): Promise<void> | undefined {
    this.followSelected();
    const st = this.state;
    if (mode === 'none' || st.kind !== 'selected') return this.notifier.deliver(mode);
    let synced: Promise<void> | undefined;
    try {
      synced = syncSelected(this, st, mode === 'full', deferFlags);
    } catch (e) {
      synced = Promise.reject(e);
    }
    // Done at once, and NOTIFY owes nothing: no promise step (an idler after a change's first).
    if (!synced && this.notifier.quiet) return undefined;
    return this.finishSync(synced, mode);
  }

  private async finishSync(synced: Promise<void> | undefined, mode: SyncMode): Promise<void> {
    try {
      await synced;
    } catch (e) {
      // RFC 9051 §7.1.5: a selected mailbox that vanished (deleted elsewhere) ends the session.
      if (!(e instanceof MailboxGone || (e instanceof StoreError && e.code === 'NONEXISTENT'))) throw e;
      this.bye('Selected mailbox was deleted, please reconnect');
    }
    await this.notifier.deliver(mode);
  }
}
