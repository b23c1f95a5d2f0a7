/**
 * The command spec (DESIGN "Command spec"): each command declares where it is
 * allowed, how it parses its arguments and what it does. The connection parses
 * fully, then checks state, then runs, then lets the sync step report changes.
 */
import type { ImapSession } from '../session/session.js';
import type { StateName, SyncMode } from '../session/state.js';
import type { ArgReader } from '../wire/reader.js';

/** What a command's run() may tell the connection about its tagged OK. */
export interface CommandResult {
  /** Response code for the tagged OK, e.g. "READ-WRITE" or "APPENDUID 3 7". */
  code?: string;
  /** Text after the code; defaults to "<NAME> completed". */
  text?: string;
  /** The command already sent its tagged response (STARTTLS must answer before the handshake). */
  answered?: boolean;
}

/** Presync of FETCH and STORE: their UID forms name messages by UID only, so expunges may go first (RFC 9051 §7.5.1). */
export const PRESYNC_BY_UID = { seq: 'no-expunge', uid: 'full' } as const;
/** Presync of SEARCH, SORT and THREAD: criteria may hold sequence numbers even in the UID form (RFC 7162 §3.2.10.2). */
export const PRESYNC_NO_EXPUNGE = { seq: 'no-expunge', uid: 'no-expunge' } as const;

/** Per-invocation facts a command needs besides its arguments. */
export interface Invocation {
  tag: string;
  /** Upper-case command name. */
  name: string;
  /** Prefixed with UID (RFC 9051 §6.4.9). */
  uid: boolean;
  session: ImapSession;
}

/** One IMAP command. */
export interface CommandSpec<A = unknown> {
  name: string;
  states: readonly StateName[];
  /** Whether "UID <name>" exists. */
  uidForm?: boolean;
  /** Sync after the command; UID forms always allow full sync. Default 'full'. */
  sync?: SyncMode;
  /**
   * The command answers from message state (flags, the message list): the
   * sync step runs before it too, in this mode for its sequence-number and
   * its UID form, so no answer describes a state that no longer exists.
   */
  presync?: { seq: SyncMode; uid: SyncMode };
  /**
   * Reads the arguments that come before message data: a literal announced
   * after them is message data (APPEND's message, CATENATE's TEXT parts),
   * streamed to the blob store as it arrives and limited by APPENDLIMIT
   * instead of buffered (RFC 9051 §6.3.12, RFC 7889).
   */
  messageDataAfter?(r: ArgReader): void;
  /**
   * Reads the arguments that come before secret ones: the protocol trace
   * hides everything after them (LOGIN's password, AUTHENTICATE's initial
   * response), and everything after the name when they cannot be read.
   */
  secretAfter?(r: ArgReader): void;
  /**
   * The lines the client sends while the command runs are secret (SASL
   * responses, RFC 9051 §6.2.2): the trace hides each one except `*`.
   */
  secretResponses?: boolean;
  parse(r: ArgReader, inv: Invocation): A;
  run(inv: Invocation, args: A): Promise<CommandResult | void>;
}

/** Helper that keeps each spec's argument type checked. */
export function command<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}

/** Spec list type used by the registry. */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds commands of every argument type.
export type AnyCommand = CommandSpec<any>;
