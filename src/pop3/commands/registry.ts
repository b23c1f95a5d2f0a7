/**
 * The POP3 command table: every command the server knows, by upper-case keyword.
 */
import { capa, quit } from './any-state.js';
import { auth, pass, stls, user } from './auth.js';
import { retr, top } from './retrieve.js';
import type { AnyCommand } from './spec.js';
import { dele, list, noop, rset, stat, uidl } from './transaction.js';

const ALL: AnyCommand[] = [capa, quit, stls, user, pass, auth, stat, list, uidl, retr, top, dele, rset, noop];

/** Command specs by keyword. */
export const COMMANDS: ReadonlyMap<string, AnyCommand> = new Map(ALL.map((c) => [c.name, c]));
