/**
 * The server secret: 32 random octets in `<dataDir>/server-secret` (0600),
 * created once, from which SCRAM answers for unknown users are derived
 * (auth/scram.ts), so the answer for a name is stable and cannot be told
 * from a real account's. Nodes of a cluster that should answer alike share
 * the file.
 *
 * Invariant: the file is created whole or not at all (written beside, then
 * linked into place, which fails if another process won), and never logged.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../store/private-files.js';

/** The file's name in the data directory. */
export const SERVER_SECRET_FILE = 'server-secret';
const SECRET_BYTES = 32;

const loaded = new Map<string, Promise<Buffer>>();

async function readOrCreate(path: string): Promise<Buffer> {
  try {
    return await readSecret(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(temp, randomBytes(SECRET_BYTES), { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  try {
    await link(temp, path);
  } catch (err) {
    // Another process created it first: theirs is the secret.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temp);
  }
  return readSecret(path);
}

async function readSecret(path: string): Promise<Buffer> {
  const secret = await readFile(path);
  if (secret.length < SECRET_BYTES) throw new Error(`${path} is shorter than ${SECRET_BYTES} octets; remove it to have a new one made`);
  return secret;
}

/** The data directory's server secret, created on first use; read once per process. */
export function serverSecret(dataDir: string): Promise<Buffer> {
  let secret = loaded.get(dataDir);
  if (secret === undefined) {
    secret = mkdir(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE }).then(() => readOrCreate(join(dataDir, SERVER_SECRET_FILE)));
    // A failure is not kept: the next attempt tries again.
    secret.catch(() => loaded.delete(dataDir));
    loaded.set(dataDir, secret);
  }
  return secret;
}
