/**
 * One IMAP connection: reads framed commands, decides on literals, runs
 * commands in order, writes responses with backpressure, and reports mailbox
 * changes through the one sync step.
 *
 * Invariants:
 * - Commands run one at a time, in the order received; responses stay in order.
 * - Input is bounded: the framer limits lines and commands; the socket is
 *   paused while unprocessed input exceeds a cap.
 * - A literal is refused before its bytes are read when it is over the limit.
 * - Bytes pipelined behind STARTTLS are discarded (RFC 9051 §6.2.1).
 * - Nothing is written while a store transaction is open (the store API is
 *   whole transactions behind promises).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { constants as zlibConstants, createDeflateRaw, createInflateRaw, type DeflateRaw } from 'node:zlib';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { AuthThrottle } from '../../auth/throttle.js';
import { MessageAnalyzer } from '../../mime/analyze.js';
import type { Uid } from '../../ids.js';
import type { Account, BlobWriter, MailStore, NewMessage } from '../../store/types.js';
import { StoreError } from '../../store/types.js';
import { newTraceState, redactTrace } from '../../log.js';
import { COMMANDS } from '../commands/registry.js';
import type { Invocation, SyncMode } from '../commands/spec.js';
import { capabilityList } from '../capabilities.js';
import { ImapError } from '../errors.js';
import { CommandFramer, type FrameEvent, type LiteralAnnounce, type Segment } from '../wire/framer.js';
import { ArgReader, ParseError } from '../wire/reader.js';
import type { EncodeMode } from '../../syntax/imap-string.js';
import { ResponseBatch } from '../wire/response-batch.js';
import type { Enabled, ImapSession } from './session.js';
import type { SessionState } from './state.js';
import { MailboxGone, syncSelected } from './sync.js';
import { CHECK_VIEWS, checkView } from './view-check.js';
import { SessionNotifier } from '../notify/notifier.js';
import type { MailboxIndexCache } from './mailbox-index.js';
import type { MailboxNameCache } from './mailbox-names.js';
import { isTrusted } from '../../net/address.js';
import { drainedOrClosed } from '../../net/socket-io.js';
import { WriteTracker } from '../../net/write-tracker.js';

/** Stop reading from the socket while this much input waits to be framed. */
const MAX_PENDING_INPUT = 256 * 1024;
/** Coalesce small responses into writes of about this size. */
const OUTPUT_CHUNK = 64 * 1024;
/** Literals before authentication are small (LOGIN, AUTHENTICATE). */
const PRE_AUTH_LITERAL_LIMIT = 8 * 1024;

/** Shared services a connection needs. */
export interface ConnectionDeps {
  store: MailStore;
  indexCache: MailboxIndexCache;
  mailboxNames: MailboxNameCache;
  config: Config;
  log: Logger;
  throttle: AuthThrottle;
  secureContext: SecureContext;
  /** Connections that should end on shutdown register here. */
  onClose(conn: ImapConnection): void;
}

interface StagedSink {
  writer: BlobWriter;
  analyzer: MessageAnalyzer;
  result?: Promise<Omit<NewMessage, 'flags' | 'internalDate'>>;
}

/** One client connection. */
export class ImapConnection implements ImapSession {
  readonly id = randomBytes(6).toString('base64url');
  readonly store: MailStore;
  readonly indexCache: MailboxIndexCache;
  readonly mailboxNames: MailboxNameCache;
  readonly config: Config;
  readonly log: Logger;
  readonly throttle: AuthThrottle;
  readonly enabled: Enabled = new Set();
  readonly remoteAddress: string;
  state: SessionState = { kind: 'not-authenticated' };
  savedSearch: Uid[] | null = null;
  secure: boolean;

  private socket: Socket;
  /** Where responses go: the socket, or a deflate stream in front of it (RFC 4978). */
  private sink: Writable;
  /** When the sink has taken what was written to it (see whenWritten). */
  private writes = new WriteTracker();
  private compressing = false;
  private framer: CommandFramer;
  /** Responses not yet handed to the sink; small ones are joined, bodies kept as they are. */
  private readonly out = new ResponseBatch();
  private outBytes = 0;
  private closed = false;
  private waiter: (() => void) | null = null;
  private staged = new Map<number, StagedSink>();
  private currentStream: StagedSink | null = null;
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
  private readonly traceState = newTraceState('imap');

  /** `listener.remoteAddress`: the client's address as the listener found it (PROXY protocol aware). */
  constructor(socket: Socket, private readonly deps: ConnectionDeps, private readonly listener: { implicitTls: boolean; remoteAddress: string }) {
    this.store = deps.store;
    this.indexCache = deps.indexCache;
    this.mailboxNames = deps.mailboxNames;
    this.config = deps.config;
    this.throttle = deps.throttle;
    this.secure = listener.implicitTls;
    this.remoteAddress = listener.remoteAddress;
    this.log = deps.log.child({ session: this.id });
    this.socket = socket;
    this.sink = socket;
    this.framer = this.newFramer();
    this.attach(socket);
  }

  private newFramer(): CommandFramer {
    const l = this.config.limits;
    return new CommandFramer({ maxLineLength: l.maxLineLength, maxCommandSize: l.maxCommandSize });
  }

  private attach(socket: Socket): void {
    this.socket = socket;
    this.sink = socket;
    this.writes = new WriteTracker();
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.markClosed());
    socket.on('end', () => this.markClosed());
    socket.setTimeout(this.config.limits.preAuthTimeoutSeconds * 1000, () => {
      this.bye('Autologout; idle for too long');
    });
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.config.log.trace) this.trace('C', chunk);
    this.framer.push(chunk);
    if (this.framer.buffered > MAX_PENDING_INPUT) this.socket.pause();
    this.wake();
  };

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.notifier.close();
    // A finished writer rejects abort(); nothing is left to undo then.
    for (const sink of this.staged.values()) void sink.writer.abort().catch(() => undefined);
    this.staged.clear();
    // A literal cut off by the disconnect: drop its temp file.
    void this.currentStream?.writer.abort().catch(() => undefined);
    this.currentStream = null;
    this.deps.onClose(this);
    this.wake();
  }

  private trace(dir: 'C' | 'S', bytes: Buffer): void {
    const data = redactTrace(bytes, this.traceState, dir === 'C' ? 'client' : 'server');
    if (data !== '') this.log.info({ trace: dir, data }, 'trace');
  }

  get encodeMode(): EncodeMode {
    return { utf8: this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2') };
  }

  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }

  get loginDisabled(): boolean {
    if (this.secure || this.config.plaintextAuth.allowInsecure) return false;
    return !isTrusted(this.remoteAddress, this.config.plaintextAuth.trustedNetworks);
  }

  capabilities(): string[] {
    return capabilityList(this);
  }

  // ---- output ----

  untagged(line: Buffer | string): void {
    // Text joins the batch's text run: no buffer per line.
    if (typeof line === 'string') this.queue(`* ${line}\r\n`);
    else this.write(Buffer.concat([Buffer.from('* '), line, Buffer.from('\r\n')]));
  }

  write(bytes: Buffer): void {
    this.queue(bytes);
  }

  private queue(output: Buffer | string): void {
    if (this.closed || this.sink.writableEnded) return;
    if (typeof output === 'string') this.out.add(output);
    else this.out.addBytes(output);
    // A string's length undercounts non-ASCII bytes; it only decides when to write.
    this.outBytes += output.length;
    if (this.outBytes >= OUTPUT_CHUNK) this.sendOut();
  }

  /** Hands queued output to the sink in one corked batch: one writev, message bodies not copied again. */
  private sendOut(): void {
    if (this.outBytes === 0 || this.closed || this.sink.writableEnded) return;
    const pieces = this.out.take();
    this.outBytes = 0;
    if (pieces.length > 1) this.sink.cork();
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (this.config.log.trace) this.trace('S', piece);
      this.sink.write(piece, i === pieces.length - 1 ? this.writes.counted() : undefined);
    }
    if (pieces.length > 1) this.sink.uncork();
  }

  whenWritten(): Promise<void> {
    // Output still queued is not forced out (it may share a write with the tagged reply): the next write carries it.
    return this.writes.allTaken(this.outBytes > 0 ? 1 : 0);
  }

  async flush(): Promise<void> {
    if (!this.flushNow()) await drainedOrClosed(this.sink, this.socket);
  }

  flushNow(): boolean {
    this.sendOut();
    // RFC 4978 §4: a sync flush after each burst so the client can decode what it was sent.
    if (this.compressing && !this.sink.writableEnded) (this.sink as DeflateRaw).flush(zlibConstants.Z_SYNC_FLUSH);
    return !this.sink.writableNeedDrain || this.closed;
  }

  async backpressure(): Promise<void> {
    if (this.sink.writableNeedDrain && !this.closed) await this.flush();
  }

  /** Switches both directions to raw DEFLATE after COMPRESS's tagged OK (RFC 4978 §3). */
  async startCompression(): Promise<void> {
    await this.flush();
    const deflate = createDeflateRaw({ level: 6 });
    const inflate = createInflateRaw();
    deflate.pipe(this.socket);
    this.socket.off('data', this.onData);
    this.socket.on('data', (chunk: Buffer) => inflate.write(chunk));
    inflate.on('data', this.onData);
    inflate.on('error', () => this.bye('Invalid compressed data'));
    this.sink = deflate;
    this.writes = new WriteTracker();
    this.compressing = true;
  }

  /** Whether COMPRESS is active. */
  get compressed(): boolean {
    return this.compressing;
  }

  async pipeFrom(source: NodeJS.ReadableStream): Promise<void> {
    this.sendOut();
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (this.closed) break;
      if (this.config.log.trace) this.trace('S', chunk);
      this.sink.write(chunk);
      if (this.sink.writableNeedDrain) await this.flush();
    }
  }

  private tagged(tag: string, status: 'OK' | 'NO' | 'BAD', code: string | null | undefined, text: string): void {
    const line = `${tag} ${status} ${code ? `[${code}] ` : ''}${text}`;
    this.write(Buffer.from(line + '\r\n'));
  }

  /** Server shutdown: BYE now when idle, else right after the command in progress. */
  shutdown(reason: string): void {
    if (this.awaitingInput) this.bye(reason);
    else this.pendingBye = reason;
  }

  /** Sends BYE and closes (timeouts, shutdown, fatal input). */
  bye(text: string): void {
    if (this.closed) return;
    this.untagged(`BYE ${text}`);
    this.sendOut();
    this.sink.end();
    this.state = { kind: 'logout' };
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  // ---- input ----

  private async nextEvent(): Promise<FrameEvent | null> {
    for (;;) {
      const ev = this.framer.next();
      if (ev) return ev;
      if (this.closed) return null;
      if (this.socket.isPaused() && this.framer.buffered < MAX_PENDING_INPUT / 2) this.socket.resume();
      this.awaitingInput = true;
      await new Promise<void>((resolve) => (this.waiter = resolve));
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
        case 'literal':
          await this.decideLiteral(ev.announce);
          break;
        case 'literal-chunk':
          await this.feedStream(ev.data);
          break;
        case 'literal-end':
          this.endStream(ev.id);
          break;
        case 'error':
          this.tagged(ev.tag ?? '*', 'BAD', 'TOOBIG', ev.reason === 'line-too-long' ? 'Command line too long' : 'Command too large');
          break;
        case 'command':
          await this.execute(ev.segments);
          break;
      }
      await this.flush();
      if (this.pendingBye) this.bye(this.pendingBye);
    }
    // LOGOUT (RFC 9051 §6.1.3): the server closes the connection after the tagged OK.
    if (!this.closed) this.sink.end();
    this.log.info({ remote: this.remoteAddress }, 'disconnect');
  }

  /** The tag and command name at the start of a command, when readable. */
  private peekCommand(segments: readonly Segment[]): { tag: string; name: string; rest: string } | null {
    const first = segments[0];
    if (!first || first.kind !== 'text') return null;
    const m = /^(\S+) (?:UID )?(\S+)(?: (.*))?$/is.exec(first.bytes.toString('latin1'));
    return m ? { tag: m[1]!, name: m[2]!.toUpperCase(), rest: m[3] ?? '' } : null;
  }

  /** Accepts, streams or refuses a literal before reading it (RFC 9051 §4.3, RFC 7888 §4). */
  private async decideLiteral(a: LiteralAnnounce): Promise<void> {
    const cmd = this.peekCommand(a.segments);
    const tag = cmd?.tag ?? '*';
    const authed = this.state.kind === 'authenticated' || this.state.kind === 'selected';
    // An APPEND literal after the mailbox argument is message data: stream it to the blob store.
    // So is REPLACE's after its message number and mailbox (RFC 8508 §5); the mailbox alone may be a literal.
    const isMessage =
      authed &&
      ((cmd?.name === 'APPEND' && (a.segments.length > 1 || cmd.rest.trim() !== '')) ||
        (cmd?.name === 'REPLACE' && (a.segments.length > 1 || /\S\s+\S/.test(cmd.rest))));
    const refuse = (code: string, text: string): void => {
      this.framer.rejectLiteral();
      this.tagged(tag, 'NO', code, text);
    };
    if (isMessage) {
      const limit = this.config.limits.appendLimit;
      if (a.size > limit) return refuse('TOOBIG', `Message too big (limit ${limit} octets)`);
      this.framer.acceptLiteral('stream');
      const writer = this.store.blobs.createWriter(limit);
      this.currentStream = { writer, analyzer: new MessageAnalyzer() };
    } else {
      const limit = authed ? this.config.limits.maxLiteralSize : Math.min(PRE_AUTH_LITERAL_LIMIT, this.config.limits.maxLiteralSize);
      if (a.size > limit || !this.framer.literalFits(a.size)) {
        this.framer.rejectLiteral();
        this.tagged(tag, 'BAD', 'TOOBIG', `Literal too big (limit ${limit} octets)`);
        return;
      }
      this.framer.acceptLiteral('buffer');
    }
    if (!a.nonSync) {
      this.write(Buffer.from('+ Ready for literal data\r\n'));
    }
  }

  private async feedStream(data: Buffer): Promise<void> {
    const sink = this.currentStream;
    if (!sink) return;
    sink.analyzer.write(data);
    if (!sink.writer.write(data)) {
      this.socket.pause();
      await sink.writer.drained();
    }
  }

  private endStream(id: number): void {
    const sink = this.currentStream;
    if (!sink) return;
    this.currentStream = null;
    sink.result = (async () => {
      const blob = await sink.writer.finish();
      return { blob, analysis: sink.analyzer.end() };
    })();
    // Rejections are observed by takeStagedMessage; avoid unhandled-rejection noise meanwhile.
    sink.result.catch(() => undefined);
    this.staged.set(id, sink);
  }

  takeStagedMessage(streamId: number): Promise<Omit<NewMessage, 'flags' | 'internalDate'>> {
    const sink = this.staged.get(streamId);
    this.staged.delete(streamId);
    if (!sink?.result) return Promise.reject(new ImapError('BAD', null, 'Message literal missing'));
    return sink.result.catch((e: unknown) => {
      if (e instanceof StoreError && e.code === 'LIMIT') throw new ImapError('NO', 'TOOBIG', 'Message too big');
      throw e;
    });
  }

  /** Waits for a whole line from the client (continuations, IDLE DONE). */
  async readLine(): Promise<Buffer | null> {
    for (;;) {
      const ev = await this.nextEvent();
      if (!ev) return null;
      if (ev.type === 'command') {
        const first = ev.segments[0];
        return ev.segments.length === 1 && first?.kind === 'text' ? first.bytes : Buffer.from('');
      }
      if (ev.type === 'literal') {
        // Continuation lines carry no literals (RFC 9051 §6.2.2, RFC 2177).
        this.framer.rejectLiteral();
        return Buffer.from('');
      }
      if (ev.type === 'error') return Buffer.from('');
    }
  }

  async continuation(text: string): Promise<Buffer | null> {
    this.write(Buffer.from(`+ ${text}\r\n`));
    await this.flush();
    return this.readLine();
  }

  async startTls(): Promise<void> {
    await this.flush();
    const raw = this.socket;
    raw.off('data', this.onData);
    raw.removeAllListeners('timeout');
    // RFC 9051 §6.2.1: anything the client pipelined after STARTTLS is discarded.
    this.framer = this.newFramer();
    const tlsSocket = new TLSSocket(raw, { isServer: true, secureContext: this.deps.secureContext });
    await new Promise<void>((resolve, reject) => {
      tlsSocket.once('secure', resolve);
      tlsSocket.once('error', reject);
      tlsSocket.once('close', () => reject(new Error('closed during TLS handshake')));
    });
    this.secure = true;
    this.attach(tlsSocket as unknown as Socket);
  }

  authenticated(account: Account): void {
    this.state = { kind: 'authenticated', account };
    this.socket.setTimeout(this.config.limits.idleTimeoutSeconds * 1000);
    this.log.info({ user: account.name }, 'login');
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

  // ---- command execution ----

  private async execute(segments: Segment[]): Promise<void> {
    const r = new ArgReader(segments);
    let tag = '*';
    let inv: Invocation | null = null;
    let syncMode: SyncMode = 'full';
    const started = Date.now();
    try {
      tag = r.tag();
      r.sp();
      let name = r.atom().toUpperCase();
      let uid = false;
      if (name === 'UID') {
        r.sp();
        name = r.atom().toUpperCase();
        uid = true;
      }
      const spec = COMMANDS.get(name);
      if (!spec || (uid && !spec.uidForm)) throw new ParseError(`Unknown command ${uid ? 'UID ' : ''}${name}`);
      // RFC 9586 §3.2: under UIDONLY, commands that take sequence numbers need their UID form.
      if (spec.uidForm && !uid && this.enabled.has('UIDONLY') && name !== 'EXPUNGE') {
        throw new ImapError('BAD', 'UIDREQUIRED', 'Message numbers are not allowed once UIDONLY is enabled');
      }
      inv = { tag, name, uid, session: this };
      this.progressTag = tag;
      this.progressAt = Date.now();
      const args: unknown = spec.parse(r, inv);
      r.end();
      if (this.state.kind === 'logout' || !spec.states.includes(this.state.kind)) {
        throw new ImapError('BAD', null, stateError(this.state.kind, name, spec.states));
      }
      syncMode = uid ? 'full' : (spec.sync ?? 'full');
      // The answer must show the mailbox as it is now, not as this view last saw it.
      if (spec.presync && this.state.kind === 'selected') await this.sync(uid ? spec.presync.uid : spec.presync.seq, true);
      const result = await spec.run(inv, args);
      if (this.closed) return;
      if ((this.state.kind as string) !== 'logout') await this.sync(syncMode);
      if (CHECK_VIEWS && this.state.kind === 'selected') await checkView(this.store, this.state.account.id, this.state.view);
      const label = `${uid ? 'UID ' : ''}${name}`;
      if (!result?.answered) this.tagged(tag, 'OK', result?.code, result?.text ?? `${label} completed`);
      this.log.debug({ cmd: label, ms: Date.now() - started }, 'command');
    } catch (e) {
      await this.fail(tag, inv, e, syncMode);
    } finally {
      for (const [id, sink] of this.staged) {
        this.staged.delete(id);
        // An untaken message (a command that failed first): its writer already finished
        // (endStream), so there is nothing to abort; only the outcome is observed.
        void sink.result?.then(() => undefined, () => undefined);
      }
    }
  }

  private async fail(tag: string, inv: Invocation | null, e: unknown, syncMode: SyncMode): Promise<void> {
    let status: 'NO' | 'BAD';
    let code: string | null = null;
    let text: string;
    if (e instanceof ParseError) {
      status = 'BAD';
      text = `Error in IMAP command${inv ? ` ${inv.name}` : ''}: ${e.message}`;
    } else if (e instanceof ImapError) {
      status = e.status;
      code = e.code;
      text = e.message;
    } else if (e instanceof StoreError) {
      status = 'NO';
      code = e.code;
      text = e.message;
    } else {
      status = 'NO';
      code = 'SERVERBUG';
      text = 'Internal server error, logged for the administrator';
      this.log.error({ err: e, cmd: inv?.name }, 'command failed unexpectedly');
    }
    if (status === 'NO' || status === 'BAD') this.log.info({ cmd: inv?.name ?? null, status, code, text }, 'command failed');
    if (!this.closed && inv && this.state.kind === 'selected') {
      try {
        await this.sync(syncMode === 'full' ? 'full' : 'no-expunge');
      } catch (err) {
        this.log.error({ err }, 'sync failed');
      }
    }
    this.tagged(tag, status, code, text);
  }
}

/** How the state names of state.ts read in a response text (RFC 9051 §3). */
const STATE_WORDS: Record<SessionState['kind'], string> = { 'not-authenticated': 'not authenticated', authenticated: 'authenticated', selected: 'selected', logout: 'logging out' };

/**
 * The text of the BAD for a command sent in a state it is not allowed in
 * (RFC 9051 §3: a protocol error, BAD or NO; BAD here): the states it needs
 * and the one the session is in.
 */
function stateError(state: SessionState['kind'], name: string, allowed: readonly SessionState['kind'][]): string {
  const needed = allowed.map((s) => STATE_WORDS[s]);
  const states = needed.length > 1 ? `${needed.slice(0, -1).join(', ')} or ${needed.at(-1)} states` : `${needed[0]} state`;
  return `${name} is allowed only in the ${states} (this session is ${STATE_WORDS[state]})`;
}
