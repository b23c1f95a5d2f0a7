/**
 * File steps shared by backup and restore: copying one file while hashing it
 * (the bytes are read once, hashed and written; the copy is fsynced before it
 * counts, so every byte that lands was checked against its checksum), and
 * the empty directory each one writes into.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-files.js';

/** What was copied: the SHA-256 (lower-case hex) and size of the bytes. */
export interface CopiedFile {
  sha256: string;
  size: number;
}

/** Copies `from` to a new file `to` (mode 0600, never overwriting), fsynced; returns the bytes' hash and size. */
export async function copyHashed(from: string, to: string): Promise<CopiedFile> {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(from), tap, createWriteStream(to, { flags: 'wx', mode: PRIVATE_FILE_MODE, flush: true }));
  return { sha256: hash.digest('hex'), size };
}

/** The SHA-256 (lower-case hex) and size of a file. */
export async function hashFile(path: string): Promise<CopiedFile> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Fsyncs a directory, so the names of the files just created in it survive a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Creates `dir` (0700) or accepts it when empty; a directory with anything in it is refused with `refusal`. */
export async function ensureEmptyDir(dir: string, refusal: () => Error): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if ((await readdir(dir)).length > 0) throw refusal();
}

/** Removes everything inside `dir` (which was empty when this operation began), keeping `dir`. */
export async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
}

/**
 * Runs `fn` on every item, at most `limit` at once. After a failure no new
 * item starts, and the first error is thrown only once every running call
 * has ended, so the caller may clean up without racing a copy in flight.
 */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      try {
        await fn(items[next++]!);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}
