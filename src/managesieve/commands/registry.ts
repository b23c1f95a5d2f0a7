/**
 * Every ManageSieve command by name (RFC 5804 §2).
 */
import { capability, logout, noop } from './any-state.js';
import { authenticate, starttls, unauthenticate } from './auth.js';
import { checkscript, deletescript, getscript, havespace, listscripts, putscript, renamescript, setactive } from './scripts.js';
import type { AnyCommand } from './spec.js';

/** The command table, by upper-case name. */
export const COMMANDS: ReadonlyMap<string, AnyCommand> = new Map(
  [
    capability,
    logout,
    noop,
    starttls,
    authenticate,
    unauthenticate,
    havespace,
    putscript,
    checkscript,
    listscripts,
    setactive,
    getscript,
    deletescript,
    renamescript,
  ].map((spec) => [spec.name, spec as AnyCommand]),
);
