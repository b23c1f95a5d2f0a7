/**
 * What both backends share of the SCRAM key role: the row shape and its
 * conversion. The SQL differs only in parameter syntax and lives beside each
 * backend.
 */
import type { ScramCredential, ScramHash } from '../scram-key-types.js';

/** A scram_keys row as both drivers return it (BLOB and bytea arrive as Buffer). */
export interface ScramKeyRow {
  salt: Buffer;
  iterations: number;
  stored_key: Buffer;
  server_key: Buffer;
}

/** The credential a row holds. */
export function toScramCredential(hash: ScramHash, row: ScramKeyRow): ScramCredential {
  return { hash, salt: row.salt, iterations: Number(row.iterations), storedKey: row.stored_key, serverKey: row.server_key };
}

/** The columns of a row to write, in the order the backends' INSERTs list them. */
export function scramKeyValues(c: ScramCredential): [string, Buffer, number, Buffer, Buffer] {
  return [c.hash, c.salt, c.iterations, c.storedKey, c.serverKey];
}
