/**
 * The data directory holds every message and the password hashes, so only
 * the server's user may read it, whatever umask the process runs with or
 * mode the directory was created with.
 *
 * Invariants:
 * - Directories mailkeep creates are 0700 and files 0600: every mkdir/open
 *   names its mode, and a mode only loses bits to the umask. SQLite gives its
 *   -wal and -shm files the database file's mode, so the database is created
 *   0600 before SQLite opens it.
 * - A directory or file of ours with group/other bits is tightened when the
 *   store opens; one owned by another user is left as it is and reported.
 * - A process that cannot read and write the data directory gets one clear
 *   error (StoreAccessError), not SQLite's "unable to open database file".
 */
import { constants } from 'node:fs';
import { access, chmod, open, stat } from 'node:fs/promises';

/** Owner-only modes. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** The store's files cannot be read or written by this process's user (EACCES, EPERM). */
export class StoreAccessError extends Error {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`cannot open the store: ${path} ${reason}; run mailkeep as the user that owns the data directory (e.g. \`sudo -u mailkeep\`)`);
    this.name = 'StoreAccessError';
  }
}

function isDenied(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}

/** The current user id, or null where there is none (Windows). */
function currentUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

/**
 * Removes group and other permissions from an existing path we own; returns
 * a warning when it had them (tightened, or not ours to tighten), else null.
 * A missing path is fine (null).
 */
export async function tightenMode(path: string, mode: number): Promise<string | null> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if (isDenied(err)) throw new StoreAccessError(path, 'is not accessible to this user');
    throw err;
  }
  if ((st.mode & 0o077) === 0) return null;
  const uid = currentUid();
  if (uid !== null && st.uid !== uid && uid !== 0) {
    return `${path} is readable by other users (mode ${octal(st.mode)}, owner uid ${st.uid}): it holds mail and password hashes; run chmod ${octal(mode)} ${path}`;
  }
  await chmod(path, mode);
  return `${path} was readable by other users (mode ${octal(st.mode)}); changed to ${octal(mode)}`;
}

/**
 * A warning when root opens a data directory another user owns: what it
 * creates belongs to root, mode 0600, and that user's server cannot read it.
 */
export async function foreignOwnerWarning(dir: string): Promise<string | null> {
  if (currentUid() !== 0) return null;
  const { uid } = await stat(dir);
  return uid === 0
    ? null
    : `running as root on ${dir}, which uid ${uid} owns: files created now belong to root and a server running as uid ${uid} cannot read them; run mailkeep as that user`;
}

/** Checks that this process may read and write (and enter, for a directory) a path, or throws StoreAccessError. */
export async function checkAccess(path: string, directory: boolean): Promise<void> {
  const want = constants.R_OK | constants.W_OK | (directory ? constants.X_OK : 0);
  try {
    await access(path, want);
  } catch (err) {
    if (isDenied(err)) throw new StoreAccessError(path, `is not readable and writable by uid ${currentUid() ?? '?'}`);
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Creates an empty file with mode 0600 unless it exists (the SQLite database, before SQLite opens it). */
export async function createPrivateFile(path: string): Promise<void> {
  try {
    await (await open(path, 'wx', PRIVATE_FILE_MODE)).close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    if (isDenied(err)) throw new StoreAccessError(path, 'cannot be created by this user');
    throw err;
  }
}
