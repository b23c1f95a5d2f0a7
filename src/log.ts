/**
 * Logging: pino JSON lines on stdout, a child logger per session, and the
 * redaction of per-session protocol traces.
 *
 * Invariant: passwords never reach a log. Structured fields named like
 * passwords are censored by pino itself; protocol traces go through
 * redactTrace, which hides LOGIN / PASS / APOP secrets and SASL payloads and
 * replaces literal and message contents with their size.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { Config } from './config/schema.js';

/** The logger type every module receives. */
export type Logger = PinoLogger;

/** Creates the process logger at the configured level, writing JSON lines to stdout (or `destination`). */
export function createLogger(config: Pick<Config, 'log'>, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.log.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Defence in depth: a stray `{ password }` field is censored, not written.
      redact: { paths: ['password', 'pass', 'passwordHash', '*.password', '*.pass', '*.passwordHash'], censor: '[redacted]' },
    },
    destination ?? pino.destination(1),
  );
}

/** A child logger whose every line carries the session id (and any extra fields, e.g. the client address). */
export function sessionLogger(log: Logger, session: string, fields: Record<string, unknown> = {}): Logger {
  return log.child({ session, ...fields });
}

// ---------------------------------------------------------------------------
// Protocol trace redaction

/**
 * The transport's trace hook for one session (net/transport.ts `Tracer`):
 * each direction redacted, then logged as `{ trace: 'C' | 'S', data }`.
 */
export function protocolTracer(log: Logger, protocol: TraceState['protocol']): { client(bytes: Buffer): void; server(bytes: Buffer): void } {
  const state = newTraceState(protocol);
  const emit = (dir: 'C' | 'S', bytes: Buffer): void => {
    const data = redactTrace(bytes, state, dir === 'C' ? 'client' : 'server');
    if (data !== '') log.info({ trace: dir, data }, 'trace');
  };
  return { client: (bytes) => emit('C', bytes), server: (bytes) => emit('S', bytes) };
}

/** What redaction remembers about one direction of the traffic. */
interface StreamState {
  /** Octets of literal content still to come. */
  left: number;
  /** Size announced by the literal marker, shown once when the content starts. */
  size: number;
  /** The first octets of a line not yet complete (at most MAX_TRACE_LINE). */
  head: Buffer;
  /** The last octets beyond the head (at most TAIL_KEEP): where a literal marker sits. */
  tail: Buffer;
  /** Octets of the incomplete line seen so far. */
  total: number;
}

/** Redaction state for one session; create with newTraceState and pass to every redactTrace call. */
export interface TraceState {
  readonly protocol: 'imap' | 'pop3';
  readonly client: StreamState;
  readonly server: StreamState;
  /** Name of the client command still in progress across literals (IMAP), else null. */
  command: string | null;
  /** Tag of the last IMAP command started: its tagged answer ends a SASL exchange or cancels a literal. */
  tag: string;
  /** The rest of the current client command is secret (LOGIN after the user name). */
  hideRest: boolean;
  /** The literal in progress is LOGIN's user name: everything after it is the password. */
  hideAfterLiteral: boolean;
  /** The client announced a synchronizing literal and waits for '+' (RFC 9051 §4.3). */
  awaitingContinuation: boolean;
  /** Client lines are SASL responses until the server answers the command (RFC 9051 §6.2.2, RFC 5034 §4). */
  sasl: boolean;
  /** POP3: the kind of each pipelined command still awaiting its response (RFC 2449 PIPELINING). */
  readonly pop3Pending: Array<'content' | 'auth' | 'other'>;
  /** POP3: inside a RETR/TOP multi-line response; counts its octets. */
  pop3Content: number | null;
}

const newStream = (): StreamState => ({ left: 0, size: 0, head: Buffer.alloc(0), tail: Buffer.alloc(0), total: 0 });

/** Fresh redaction state for a session of the given protocol. */
export function newTraceState(protocol: 'imap' | 'pop3' = 'imap'): TraceState {
  return {
    protocol,
    client: newStream(),
    server: newStream(),
    command: null,
    tag: '',
    hideRest: false,
    hideAfterLiteral: false,
    awaitingContinuation: false,
    sasl: false,
    pop3Pending: [],
    pop3Content: null,
  };
}

const HIDDEN = '***';
/** Longest line start kept for the trace; the middle of longer lines is elided, bounding memory. */
const MAX_TRACE_LINE = 2048;
/** Line end kept beyond MAX_TRACE_LINE: enough for any literal marker. */
const TAIL_KEEP = 64;
/** Bounds the POP3 pipelining queue; a client cannot grow it without limit. */
const MAX_POP3_PENDING = 1000;
/** `{N}`, `{N+}` (RFC 7888) or `~{N}` (RFC 3516) ending a line. */
const LITERAL_MARKER = /~?\{(\d{1,20})(\+?)\}$/;

/**
 * Redacts one piece of a session's traffic for the protocol trace.
 *
 * Pass the raw octets exactly as read from or written to the socket, in order,
 * split anywhere, with nothing left out: literal sizes count octets, and a
 * line is only shown once complete. Server pieces matter too: they end a SASL
 * exchange and carry message contents (FETCH literals, POP3 RETR), which are
 * shown as `{N bytes}`. Returns '' when nothing is ready to show.
 */
export function redactTrace(piece: string | Buffer, state: TraceState, from: 'client' | 'server' = 'client'): string {
  const buf = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
  const st = from === 'client' ? state.client : state.server;
  let out = '';
  let i = 0;
  while (i < buf.length) {
    if (st.left > 0) {
      const take = Math.min(st.left, buf.length - i);
      if (st.left === st.size) out += from === 'client' && state.hideRest ? '' : `{${st.size} bytes}`;
      st.left -= take;
      i += take;
      if (st.left === 0 && from === 'client' && state.hideAfterLiteral) {
        state.hideAfterLiteral = false;
        state.hideRest = true;
      }
      continue;
    }
    const nl = buf.indexOf(0x0a, i);
    const end = nl < 0 ? buf.length : nl + 1;
    appendPartial(st, buf.subarray(i, end));
    i = end;
    if (nl < 0) break;
    const octets = st.total;
    const line = takeLine(st);
    const eol = /\r?\n$/.exec(line)?.[0] ?? '';
    const body = line.slice(0, line.length - eol.length);
    out += from === 'client' ? clientLine(body, state) + eol : serverLine(body, eol, octets, state);
  }
  return out;
}

function appendPartial(st: StreamState, seg: Buffer): void {
  st.total += seg.length;
  const room = MAX_TRACE_LINE - st.head.length;
  if (room > 0) {
    st.head = Buffer.concat([st.head, seg.subarray(0, room)]);
    seg = seg.subarray(room);
  }
  if (seg.length > 0) st.tail = Buffer.concat([st.tail, seg]).subarray(-TAIL_KEEP);
}

/** The completed line, its middle elided when overlong; resets the partial line. */
function takeLine(st: StreamState): string {
  const omitted = st.total - st.head.length - st.tail.length;
  const text = st.head.toString('utf8') + (omitted > 0 ? `[… ${omitted} bytes …]` : '') + st.tail.toString('utf8');
  st.head = Buffer.alloc(0);
  st.tail = Buffer.alloc(0);
  st.total = 0;
  return text;
}

/** Starts counting a literal announced at the end of `body`; returns whether there was one. */
function startLiteral(body: string, lit: StreamState): RegExpExecArray | null {
  const m = LITERAL_MARKER.exec(body);
  if (m) lit.left = lit.size = Number(m[1]);
  return m;
}

function clientLine(body: string, state: TraceState): string {
  if (state.sasl) return body === '*' ? body : HIDDEN; // '*' cancels the exchange (RFC 9051 §6.2.2)
  if (state.protocol === 'pop3') return pop3ClientLine(body, state);
  let shown: string;
  if (state.command !== null) {
    shown = state.hideRest && body !== '' ? HIDDEN : body;
  } else {
    const m = /^(\S+ +)(\S+)( +|$)/.exec(body);
    state.command = m ? m[2]!.toUpperCase() : '';
    state.tag = m ? m[1]!.trimEnd() : '';
    shown = body;
    if (m && state.command === 'LOGIN') shown = m[0] + redactLoginArgs(body.slice(m[0].length), state);
    else if (m && state.command === 'AUTHENTICATE') {
      // RFC 4959: an initial response may follow the mechanism name.
      const mech = /^\S+/.exec(body.slice(m[0].length))?.[0] ?? '';
      shown = m[0] + mech + (body.length > m[0].length + mech.length ? ` ${HIDDEN}` : '');
      state.sasl = true;
    }
  }
  const marker = startLiteral(body, state.client);
  if (marker) state.awaitingContinuation = marker[2] !== '+';
  else endCommand(state);
  return shown;
}

/** LOGIN userid password (RFC 9051 §6.2.3): keeps the user name, hides the rest. */
function redactLoginArgs(args: string, state: TraceState): string {
  if (LITERAL_MARKER.test(args) && args.startsWith('{')) {
    state.hideAfterLiteral = true; // the user name is a literal; the password follows it
    return args;
  }
  const user = args.startsWith('"') ? (/^"(?:[^"\\]|\\.)*"/.exec(args)?.[0] ?? args) : (/^\S*/.exec(args)?.[0] ?? '');
  state.hideRest = true;
  return user + (args.length > user.length ? ` ${HIDDEN}` : '');
}

function endCommand(state: TraceState): void {
  state.command = null;
  state.hideRest = false;
  state.hideAfterLiteral = false;
  state.awaitingContinuation = false;
}

function pop3ClientLine(body: string, state: TraceState): string {
  const words = body.split(' ');
  const verb = words[0]!.toUpperCase();
  if (state.pop3Pending.length >= MAX_POP3_PENDING) state.pop3Pending.shift();
  state.pop3Pending.push(verb === 'RETR' || verb === 'TOP' ? 'content' : verb === 'AUTH' && words.length > 1 ? 'auth' : 'other');
  switch (verb) {
    case 'PASS': // RFC 1939 §7
      return `${words[0]} ${HIDDEN}`;
    case 'APOP':
      return `${words[0]} ${words[1] ?? ''} ${HIDDEN}`;
    case 'AUTH': // RFC 5034 §4; bare AUTH only lists mechanisms
      if (words.length < 2) return body;
      state.sasl = true;
      return `${words[0]} ${words[1]}${words.length > 2 ? ` ${HIDDEN}` : ''}`;
    default:
      return body;
  }
}

function serverLine(body: string, eol: string, octets: number, state: TraceState): string {
  if (state.protocol === 'pop3') return pop3ServerLine(body, eol, octets, state);
  // Only the answer tagged like the current command counts: earlier pipelined commands may still be answered.
  const ownAnswer = state.tag !== '' && body.startsWith(`${state.tag} `);
  if (state.sasl && (ownAnswer || body.startsWith('* BYE'))) state.sasl = false;
  if (state.awaitingContinuation && ownAnswer) {
    // A tagged answer instead of '+': the client will not send the literal (RFC 9051 §4.3).
    state.client.left = 0;
    endCommand(state);
  }
  if (body === '+' || body.startsWith('+ ')) state.awaitingContinuation = false;
  startLiteral(body, state.server);
  return body + eol;
}

function pop3ServerLine(body: string, eol: string, octets: number, state: TraceState): string {
  if (state.pop3Content !== null) {
    if (body !== '.') {
      state.pop3Content += octets;
      return '';
    }
    const size = state.pop3Content;
    state.pop3Content = null;
    return `{${size} bytes}${eol}${body}${eol}`;
  }
  if (body.startsWith('+OK') || body.startsWith('-ERR')) {
    const kind = state.pop3Pending.shift();
    if (kind === 'auth') state.sasl = false;
    if (kind === 'content' && body.startsWith('+OK')) state.pop3Content = 0;
  }
  return body + eol;
}
