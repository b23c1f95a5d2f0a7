/**
 * The manifest of a backup directory (`manifest.json`, written last, so its
 * presence means the backup is complete):
 *
 *   mailkeep.sqlite3   the database snapshot       (sha256 and size here)
 *   blobs.txt          "<blob id> <size>" per line, sorted (sha256 here)
 *   blobs/xx/<id>      each message file; its id is the SHA-256 of its bytes
 *
 * A blob's checksum is its name (blobs are content-addressed), so the list
 * needs no second hash per file.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** The format name and version this build writes and reads. */
export const BACKUP_FORMAT = 'mailkeep-backup';
export const BACKUP_VERSION = 1;
/** File names inside a backup directory. */
export const MANIFEST_FILE = 'manifest.json';
export const DATABASE_FILE = 'mailkeep.sqlite3';
export const BLOB_LIST_FILE = 'blobs.txt';
export const BLOB_DIR = 'blobs';

/** Longest manifest read: it holds a few checksums and counts. */
const MAX_MANIFEST_BYTES = 64 * 1024;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().nonnegative();

const manifestSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(BACKUP_VERSION),
  /** When the database snapshot was started and finished (ISO 8601). */
  startedAt: z.string(),
  finishedAt: z.string(),
  /** The database's schema version (migrations applied). */
  schemaVersion: count,
  database: z.object({ sha256, size: count }),
  blobs: z.object({ listSha256: sha256, count, bytes: count }),
});

/** What manifest.json records. */
export type BackupManifest = z.infer<typeof manifestSchema>;

/** A backup that cannot be used: the message says what is wrong. */
export class BackupError extends Error {}

/** Reads and validates a backup directory's manifest. */
export async function readManifest(dir: string): Promise<BackupManifest> {
  let text: string;
  try {
    const bytes = await readFile(join(dir, MANIFEST_FILE));
    if (bytes.length > MAX_MANIFEST_BYTES) throw new BackupError(`${MANIFEST_FILE} is too large to be a mailkeep backup manifest`);
    text = bytes.toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BackupError(`${dir} holds no complete backup (${MANIFEST_FILE} is missing)`);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackupError(`${MANIFEST_FILE} is not JSON`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success)
    throw new BackupError(`${MANIFEST_FILE} is not a ${BACKUP_FORMAT} version ${BACKUP_VERSION} manifest: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

/** The manifest as written: stable key order, one field per line. */
export function manifestText(manifest: BackupManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
