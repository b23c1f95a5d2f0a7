/**
 * The command spec (DESIGN "Command spec"): each command declares where it is
 * allowed, how it parses its arguments and what it does. The connection parses
 * fully, then checks state, then runs, then lets the sync step report changes.
 */
import type { ImapSession } from '../session/session.js';
import type { StateName } from '../session/state.js';
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

/**
 * Which untagged updates may follow the command (RFC 9051 §7.4.1: no EXPUNGE
 * during FETCH, STORE or SEARCH by sequence number).
 */
export type SyncMode = 'full' | 'no-expunge' | 'none';

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
  parse(r: ArgReader, inv: Invocation): A;
  run(inv: Invocation, args: A): Promise<CommandResult | void>;
}

/** Helper that keeps each spec's argument type checked. */
export function command<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}

/** Spec list type used by the registry. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = CommandSpec<any>;
