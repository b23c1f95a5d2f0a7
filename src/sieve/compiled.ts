/** The validated, typed form of a script that the runner executes. */
import type { Position } from './ast.js';

/** A tag's value: `true` for a bare tag, else its parameter. */
export type TagValue = true | string | string[] | number;

/** A command or test after validation: tags by name (no colon), positional values in order. */
export interface CompiledNode {
  name: string;
  tags: ReadonlyMap<string, TagValue>;
  args: ReadonlyArray<string | string[] | number>;
  pos: Position;
}

/** A test with its nested tests (allof, anyof, not). */
export interface CompiledTest extends CompiledNode {
  tests: CompiledTest[];
}

/** A command; if/elsif/else chains become one `if` node with branches. */
export type CompiledCommand =
  | ({ kind: 'simple' } & CompiledNode)
  | { kind: 'if'; branches: Array<{ test: CompiledTest; block: CompiledCommand[] }>; otherwise: CompiledCommand[] | null; pos: Position };

/** A script ready to run: its capabilities and commands. */
export interface CompiledScript {
  requires: ReadonlySet<string>;
  commands: CompiledCommand[];
}
