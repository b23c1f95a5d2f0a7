/**
 * What ACME keeps under data-dir/tls/acme/: the account key, one directory of
 * certificate and key per primary name (certs/<name>/cert.pem, key.pem), the
 * state `mailkeep cert status` reads (state.json), and the lock that makes
 * one process per data dir the one that talks to the CA.
 *
 * Invariants: the directory is 0700 and every file 0600; files are replaced
 * atomically (written aside, fsynced, renamed), so a reader sees the old
 * content or the new, never a part; a new pair is written key first, then
 * certificate, and both before the state says so.
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { acmeCertificatePaths, acmeDir } from '../net/acme-files.js';
import { writeFileAtomically } from '../net/tls-material.js';
import { processAlive } from '../process-alive.js';

/** Paths of the ACME files of one data dir (the layout is net/acme-files.ts's, which the certificate source reads). */
export function acmePaths(dataDir: string) {
  const dir = acmeDir(dataDir);
  return {
    dir,
    accountKey: join(dir, 'account.key'),
    state: join(dir, 'state.json'),
    lock: join(dir, 'lock'),
    cert: (name: string) => acmeCertificatePaths(dataDir, name).cert,
    key: (name: string) => acmeCertificatePaths(dataDir, name).key,
  };
}

/** The names ACME orders, one certificate each: `acme.names`, or `hostname`. */
export function acmeNames(config: Pick<Config, 'hostname' | 'acme'>): string[] {
  return config.acme.names.length > 0 ? config.acme.names : [config.hostname];
}

/** Creates `dir` (and parents) as 0700. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Replaces `file` with `data` (0600): written aside, fsynced, renamed over, then the directory fsynced so the rename lasts. */
export async function writeAtomically(file: string, data: string | Buffer): Promise<void> {
  await writeFileAtomically(file, data, 0o600);
  const dir = await open(join(file, '..'), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** The file's content, or null when it does not exist. */
export async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Lock files this process holds. */
const locksHeld = new Set<string>();

/**
 * Takes the ACME lock: a file created exclusively (O_EXCL) holding our pid.
 * A lock whose process is gone is stale and taken over. Resolves the pid of
 * the holder when another live process has it, else null (ours now).
 */
export async function takeLock(file: string): Promise<number | null> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      locksHeld.add(file);
      return null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt((await readIfExists(file))?.toString('utf8') ?? '', 10);
    // Our own pid is live only if this process took the lock (a second server here on the same data dir);
    // otherwise it is a crashed predecessor's that had the same pid (containers reuse small pids).
    const live = holder === process.pid ? locksHeld.has(file) : Number.isInteger(holder) && holder > 0 && processAlive(holder);
    if (live) return holder;
    // Stale (its process is gone, or the file is empty from a crash mid-write): remove it and try once more.
    await rm(file, { force: true });
  }
  throw new Error(`cannot take the ACME lock ${file}`);
}

/** Releases the lock if it is still ours. */
export async function releaseLock(file: string): Promise<void> {
  const holder = (await readIfExists(file))?.toString('utf8').trim();
  if (holder === String(process.pid)) await rm(file, { force: true });
  locksHeld.delete(file);
}
