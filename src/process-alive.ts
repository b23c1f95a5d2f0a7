/** Whether a process runs, for lock files that name their holder by pid. */

/** True when a process with this id runs (signal 0 probes without signalling; EPERM: it runs as another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
