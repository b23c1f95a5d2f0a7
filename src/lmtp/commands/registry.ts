/** Every LMTP command by keyword. */
import { ehlo, helo, lhlo, noop, quit, rset, vrfy } from './any-state.js';
import { bdat, data } from './data.js';
import { mail, rcpt } from './envelope.js';
import type { AnyCommand } from './spec.js';

/** Command specs keyed by upper-case keyword. */
export const COMMANDS: ReadonlyMap<string, AnyCommand> = new Map(
  ([lhlo, helo, ehlo, mail, rcpt, data, bdat, rset, noop, vrfy, quit] as AnyCommand[]).map((c) => [c.name, c]),
);
