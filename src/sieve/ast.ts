/** The Sieve syntax tree the parser produces (RFC 5228 §8.2), with the position of every node. */

/** A 1-based line and column (in characters) in the script text. */
export interface Position {
  line: number;
  column: number;
}

/** One error with its place in the script, as CHECKSCRIPT and `mailkeep sieve check` show it. */
export interface SieveError extends Position {
  message: string;
}

/** An argument: a string, a string list, a number or a tag (RFC 5228 §2.6). */
export type Argument =
  | { kind: 'string'; value: string; pos: Position }
  | { kind: 'list'; values: string[]; pos: Position }
  | { kind: 'number'; value: number; pos: Position }
  | { kind: 'tag'; name: string; pos: Position };

/** A test: identifier, arguments and an optional test list (allof, anyof, not). */
export interface TestNode {
  name: string;
  args: Argument[];
  tests: TestNode[];
  pos: Position;
}

/** A command: identifier, arguments, its tests and its block, if any. */
export interface CommandNode {
  name: string;
  args: Argument[];
  tests: TestNode[];
  block: CommandNode[] | null;
  pos: Position;
}
