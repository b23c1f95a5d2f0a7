/** Whether a script can send mail (redirect, vacation), for the "no [relay] configured" warning of `mailkeep sieve check`. */
import type { CompiledScript } from '../sieve/index.js';

type Command = CompiledScript['commands'][number];

/** Whether a compiled script contains a redirect or vacation command anywhere (includes are not followed). */
export function sendsMail(script: CompiledScript): boolean {
  // Iterative walk: nesting is bounded by the parser, but no recursion is needed either.
  const stack: Command[] = [...script.commands];
  for (let c = stack.pop(); c !== undefined; c = stack.pop()) {
    if (c.kind === 'simple') {
      if (c.name === 'redirect' || c.name === 'vacation') return true;
      continue;
    }
    for (const b of c.branches) stack.push(...b.block);
    if (c.otherwise) stack.push(...c.otherwise);
  }
  return false;
}
