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

test('the ACME lock: taken when free, refused while its holder lives, taken over from a dead one, released by its owner only', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mailkeep-lock-'));
  const lock = join(dir, 'lock');
  const other = spawn('sleep', ['30']);
  try {
    assert.equal(await takeLock(lock), null);
    assert.equal((await readFile(lock, 'utf8')).trim(), String(process.pid));
    await releaseLock(lock);

    await writeFile(lock, `${other.pid}\n`);
    assert.equal(await takeLock(lock), other.pid);
    await releaseLock(lock);
    assert.equal((await readFile(lock, 'utf8')).trim(), String(other.pid), 'not ours: left alone');

    other.kill();
    await once(other, 'exit');
    assert.equal(await takeLock(lock), null);
    assert.equal((await readFile(lock, 'utf8')).trim(), String(process.pid));

    await writeFile(lock, '');
    assert.equal(await takeLock(lock), null, 'an empty lock (a crash mid-write) is stale');
  } finally {
    other.kill();
    await rm(dir, { recursive: true, force: true });
  }
});
