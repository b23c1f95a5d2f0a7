/**
 * The command spec (DESIGN "Command spec"), ManageSieve's small shape: each
 * command declares its states and parses its tokens into typed arguments;
 * the connection parses fully, then checks the state, then runs, and turns
 * any ManageSieveError into one NO line.
 */
import { scriptName } from '../../mail/sieve-scripts.js';
import { badCommand } from '../errors.js';
import type { SieveSession } from '../session/session.js';
import type { SieveStateName } from '../session/state.js';
import type { Token } from '../wire/tokens.js';

/** One ManageSieve command. */
export interface CommandSpec<A> {
  /** Upper-case name (RFC 5804 §4: case-insensitive). */
  name: string;
  states: readonly SieveStateName[];
  /** The client's SASL responses are secret: the trace hides them and this command's arguments after the first. */
  secret?: boolean;
  /** The largest literal this command takes after login, given the settings (PUTSCRIPT: a script). */
  literalLimit?: 'script';
  /** Parses the tokens after the command name. */
  parse(args: readonly Token[]): A;
  run(session: SieveSession, args: A): Promise<void>;
}

/** Helper that keeps each spec's argument type checked. */
export function command<A>(spec: CommandSpec<A>): CommandSpec<A> {
  return spec;
}

/** Spec list type used by the registry (method parameters are bivariant, so every spec fits). */
export type AnyCommand = CommandSpec<unknown>;

/** Checks the number of arguments; `usage` completes the error text. */
export function count(args: readonly Token[], min: number, max: number, usage: string): void {
  if (args.length < min || args.length > max) throw badCommand(`Usage: ${usage}`);
}

/** A string argument's octets (RFC 5804 §4 `string`: quoted or literal, not an atom). */
export function stringArg(token: Token | undefined, what: string): Buffer {
  if (token?.kind !== 'string') throw badCommand(`Expected ${what} as a string`);
  return token.bytes;
}

/** A string argument as UTF-8 text; a NO when its octets are not UTF-8. */
export function textArg(token: Token | undefined, what: string): string {
  const bytes = stringArg(token, what);
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw badCommand(`${what} is not UTF-8`);
  return text;
}

/** A script name (RFC 5804 §1.6) in its stored form; `emptyAllowed` for SETACTIVE's "". */
export function nameArg(token: Token | undefined, emptyAllowed = false): string {
  const text = textArg(token, 'a script name');
  if (text === '' && emptyAllowed) return '';
  const valid = scriptName(text);
  if (!valid.ok) throw badCommand(valid.reason);
  return valid.name;
}

/** A number (RFC 5804 §4: 32-bit, no leading zeros), as an atom or a string. */
export function numberArg(token: Token | undefined, what: string): number {
  const text = token?.kind === 'atom' ? token.text : token?.kind === 'string' ? token.bytes.toString('latin1') : '';
  if (!/^(0|[1-9]\d{0,9})$/.test(text) || Number(text) > 0xffffffff) throw badCommand(`Expected ${what} as a number`);
  return Number(text);
}
