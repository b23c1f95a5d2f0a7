/**
 * The command spec (DESIGN "Command spec"), POP3's smaller shape: each command
 * declares its states, parses the text after its keyword into typed
 * arguments, and runs. The connection parses fully, then checks the state,
 * then runs, and turns any Pop3Error into one -ERR line.
 */
import { badCommand } from '../errors.js';
import type { Pop3Session } from '../session/session.js';
import type { Pop3StateName } from '../session/state.js';

/** One POP3 command. */
export interface CommandSpec<A> {
  /** Upper-case keyword (RFC 1939 §3: case-insensitive). */
  name: string;
  states: readonly Pop3StateName[];
  /**
   * The trace hides the arguments after this many words (PASS: 0, the
   * password with its spaces, RFC 1939 §7; AUTH: 1, the initial response,
   * RFC 5034 §4).
   */
  secretAfterWords?: number;
  /** The lines the client sends while the command runs are secret (SASL responses, RFC 5034 §4): the trace hides each one except `*`. */
  secretResponses?: boolean;
  /** Parses what follows the keyword and one space ('' when nothing does). */
  parse(args: string): A;
  run(session: Pop3Session, args: A): Promise<void>;
}

/** Helper that keeps each spec's argument type checked. */
export function command<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}

/** Spec list type used by the registry (method parameters are bivariant, so every spec fits). */
export type AnyCommand = CommandSpec<unknown>;

/** Splits arguments at spaces (RFC 1939 §3; extra spaces tolerated), checking their count; `usage` completes the error text. */
export function words(args: string, min: number, max: number, usage: string): string[] {
  const list = splitWords(args);
  if (list.length < min || list.length > max) throw badCommand(`Usage: ${usage}`);
  return list;
}

/** The words of an argument string (RFC 1939 §3: separated by spaces; extra spaces tolerated). */
export function splitWords(args: string): string[] {
  const trimmed = args.trim();
  return trimmed === '' ? [] : trimmed.split(/ +/);
}

/** A message-number or line count: decimal digits (RFC 1939 §3), within a sane range. */
export function number(word: string, what: string): number {
  if (!/^\d{1,10}$/.test(word)) throw badCommand(`Invalid ${what}: ${word.slice(0, 20)}`);
  return Number(word);
}

/** Parses no arguments at all. */
export function noArgs(name: string): (args: string) => void {
  return (args) => {
    words(args, 0, 0, name);
  };
}

/** Parses an optional message-number (LIST, UIDL). */
export function optionalMessage(name: string): (args: string) => number | null {
  return (args) => {
    const [n] = words(args, 0, 1, `${name} [message-number]`);
    return n === undefined ? null : number(n, 'message number');
  };
}

/** Parses one message-number (RETR, DELE). */
export function oneMessage(name: string): (args: string) => number {
  return (args) => number(words(args, 1, 1, `${name} message-number`)[0]!, 'message number');
}
