/**
 * Command dispatch: parse → state check → presync → run → sync → tagged
 * response, and the one place where failures become NO or BAD. The command
 * table is injected (server/ wires it), so the session does not depend on
 * the commands it runs.
 *
 * Invariants:
 * - A command is parsed whole before its state is checked or it runs
 *   (DESIGN "Command spec"); a parse error is a BAD naming the command.
 * - Nothing is written while a store transaction is open (the store API is
 *   whole transactions behind promises).
 * - Message data a command did not take (it failed first) is discarded.
 */
import type { CommandRecorder } from '../../metrics/metrics.js';
import { StoreError } from '../../store/types.js';
import type { AnyCommand, Invocation } from '../commands/spec.js';
import type { SyncMode } from './state.js';
import { ImapError } from '../errors.js';
import type { Segment } from '../wire/framer.js';
import { ArgReader, ParseError } from '../wire/reader.js';
import type { ImapSession } from './session.js';
import type { SessionState } from './state.js';
import { CHECK_VIEWS, checkView } from './view-check.js';

/** Command specs by upper-case name. */
export type CommandTable = ReadonlyMap<string, AnyCommand>;

/** What dispatch needs of the connection besides the session interface. */
export interface DispatchHost extends ImapSession {
  readonly closed: boolean;
  tagged(tag: string, status: 'OK' | 'NO' | 'BAD', code: string | null | undefined, text: string): void;
  /** A command starts: progress reports name its tag (RFC 9585); the trace hides its responses when its spec says so. */
  commandStarted(tag: string, spec: AnyCommand): void;
}

/** `tag SP [UID SP] name` at the start of a command (RFC 9051 §9 `command`, `uid`). */
export function readCommandName(r: ArgReader): { name: string; uid: boolean } {
  r.sp();
  const name = r.atom().toUpperCase();
  if (name !== 'UID') return { name, uid: false };
  r.sp();
  return { name: r.atom().toUpperCase(), uid: true };
}

/** Runs one framed command on a connection; `metrics` records its result and latency under its table name. */
export async function execute(
  host: DispatchHost,
  commands: CommandTable,
  intake: { discardUntaken(): void },
  segments: Segment[],
  metrics: CommandRecorder,
): Promise<void> {
  const r = new ArgReader(segments);
  let tag = '*';
  let inv: Invocation | null = null;
  let known: string | null = null;
  let syncMode: SyncMode = 'full';
  const started = performance.now();
  try {
    const t = r.tag();
    // RFC 9051 §9: the tag ends at SP. "a%" is no tag "a": a tagged answer would name a tag the client never sent.
    if (r.peekByte() !== 0x20) throw new ParseError('Missing or invalid tag');
    tag = t;
    const { name, uid } = readCommandName(r);
    const spec = commands.get(name);
    if (!spec || (uid && !spec.uidForm)) throw new ParseError(`Unknown command ${uid ? 'UID ' : ''}${name}`);
    known = name;
    // RFC 9586 §3.2: under UIDONLY, commands that take sequence numbers need their UID form.
    if (spec.uidForm && !uid && host.enabled.has('UIDONLY') && name !== 'EXPUNGE') {
      throw new ImapError('BAD', 'UIDREQUIRED', 'Message numbers are not allowed once UIDONLY is enabled');
    }
    inv = { tag, name, uid, session: host };
    host.commandStarted(tag, spec);
    const args: unknown = spec.parse(r, inv);
    r.end();
    if (host.state.kind === 'logout' || !spec.states.includes(host.state.kind)) {
      throw new ImapError('BAD', null, stateError(host.state.kind, name, spec.states));
    }
    syncMode = uid ? 'full' : (spec.sync ?? 'full');
    // The answer must show the mailbox as it is now, not as this view last saw it.
    if (spec.presync && host.state.kind === 'selected') await host.sync(uid ? spec.presync.uid : spec.presync.seq, true);
    const result = await spec.run(inv, args);
    if (host.closed) return;
    if ((host.state.kind as string) !== 'logout') await host.sync(syncMode);
    if (CHECK_VIEWS && host.state.kind === 'selected') await checkView(host.store, host.state.account.id, host.state.view);
    const label = `${uid ? 'UID ' : ''}${name}`;
    if (!result?.answered) host.tagged(tag, 'OK', result?.code, result?.text ?? `${label} completed`);
    metrics.record(known, 'OK', started);
    host.log.debug({ cmd: label, ms: Math.round(performance.now() - started) }, 'command');
  } catch (e) {
    metrics.record(known, await fail(host, tag, inv, e, syncMode), started);
  } finally {
    intake.discardUntaken();
  }
}

/** Answers a failed command with NO or BAD; returns which. */
async function fail(host: DispatchHost, tag: string, inv: Invocation | null, e: unknown, syncMode: SyncMode): Promise<'NO' | 'BAD'> {
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
    host.log.error({ err: e, cmd: inv?.name }, 'command failed unexpectedly');
  }
  // Before login, the text about a line that is no known command may quote a password typed on the wrong line.
  const quotesInput = !inv && host.state.kind === 'not-authenticated';
  host.log.info({ cmd: inv?.name ?? null, status, code, text: quotesInput ? null : text }, 'command failed');
  if (!host.closed && inv && host.state.kind === 'selected') {
    try {
      await host.sync(syncMode === 'full' ? 'full' : 'no-expunge');
    } catch (err) {
      host.log.error({ err }, 'sync failed');
    }
  }
  host.tagged(tag, status, code, text);
  return status;
}

/** How the state names of state.ts read in a response text (RFC 9051 §3). */
const STATE_WORDS: Record<SessionState['kind'], string> = {
  'not-authenticated': 'not authenticated',
  authenticated: 'authenticated',
  selected: 'selected',
  logout: 'logging out',
};

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
