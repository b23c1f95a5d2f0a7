/** Parse plus validate: script text to a runnable script, or errors with line and column. */
import type { SieveError } from './ast.js';
import type { CompiledScript } from './compiled.js';
import type { SieveLimits } from './limits.js';
import { parseCommands } from './parser.js';
import { compileCommands } from './validate.js';

/** Parses and validates a script. */
export function compileSieve(text: string, limits: SieveLimits): { ok: true; script: CompiledScript } | { ok: false; errors: SieveError[] } {
  const parsed = parseCommands(text, limits);
  if (!parsed.ok) return parsed;
  return compileCommands(parsed.commands, limits);
}
