/**
 * The command spec (DESIGN "Command spec"), LMTP's smaller shape: each
 * command declares its states, parses the text after its keyword into typed
 * arguments, and runs. The connection parses fully, then checks the state,
 * then runs, and turns any LmtpError into its one reply.
 */
import type { LmtpSession } from '../session/session.js';
import type { LmtpStateName } from '../session/state.js';

/** One LMTP command. */
export interface CommandSpec<A> {
  /** Upper-case keyword (RFC 5321 §2.4: verbs are case-insensitive). */
  name: string;
  states: readonly LmtpStateName[];
  /** Parses what follows the keyword and one space ('' when nothing does). */
  parse(args: string): A;
  run(session: LmtpSession, args: A): Promise<void>;
}

/** Helper that keeps each spec's argument type checked. */
export function command<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}

/** Spec list type used by the registry (method parameters are bivariant, so every spec fits). */
export type AnyCommand = CommandSpec<unknown>;

/** Every state but closing: commands that are valid at any point of a session. */
export const ANY_STATE: readonly LmtpStateName[] = ['connected', 'ready', 'transaction'];
