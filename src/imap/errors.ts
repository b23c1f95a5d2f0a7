/**
 * Protocol errors: thrown anywhere in a command, caught at one place in the
 * connection and turned into a tagged response (DESIGN "Errors").
 */
import type { StoreError } from '../store/types.js';

/** A tagged NO or BAD with an optional response code (RFC 5530). */
export class ImapError extends Error {
  constructor(
    readonly status: 'NO' | 'BAD',
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'ImapError';
  }
}

/** Shorthand for a NO with a response code. */
export const no = (code: string | null, text: string): ImapError => new ImapError('NO', code, text);
/** Shorthand for a BAD with a response code. */
export const bad = (text: string, code: string | null = null): ImapError => new ImapError('BAD', code, text);

/** Maps a store failure onto the NO the client sees. */
export function fromStoreError(e: StoreError): ImapError {
  return new ImapError('NO', e.code, e.message);
}
