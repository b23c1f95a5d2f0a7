/**
 * The ACME lock (acme/files.ts): one process per data dir talks to the CA.
 * A live holder keeps it; a dead holder's lock is stale and taken over.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { releaseLock, takeLock } from '../src/acme/files.js';

test('the ACME lock: taken when free, refused while its holder (this process too) lives, taken over from a dead one, released by its owner only', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailkeep-lock-'));
  const lock = join(dir, 'lock');
  const other = spawn('sleep', ['30']);
  try {
    assert.equal(await takeLock(lock), null);
    assert.equal((await readFile(lock, 'utf8')).trim(), String(process.pid));
    assert.equal(await takeLock(lock), process.pid, 'a second taker in this process is refused');
    await releaseLock(lock);

    await writeFile(lock, `${other.pid}\n`);
    assert.equal(await takeLock(lock), other.pid);
    await releaseLock(lock);
    assert.equal((await readFile(lock, 'utf8')).trim(), String(other.pid), 'not ours: left alone');

    other.kill();
    await once(other, 'exit');
    assert.equal(await takeLock(lock), null);
    assert.equal((await readFile(lock, 'utf8')).trim(), String(process.pid));

    await releaseLock(lock);
    await writeFile(lock, '');
    assert.equal(await takeLock(lock), null, 'an empty lock (a crash mid-write) is stale');
    await releaseLock(lock);
    await writeFile(lock, `${process.pid}\n`);
    assert.equal(await takeLock(lock), null, 'our pid in a lock this process did not take: a predecessor with the same pid');
  } finally {
    other.kill();
    await rm(dir, { recursive: true, force: true });
  }
});
