/**
 * Every SQLite write goes through the write queue (store/sqlite/write-queue.ts)
 * and settles only after its COMMIT: a `this.write(…)` whose promise is
 * neither awaited nor returned would let a command answer OK before the commit
 * (DESIGN invariant 1) and turn its error into an unhandled rejection. Biome's
 * floating-promise rule does not see through the store's mixins, so this test
 * reads the sources.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SQLITE = fileURLToPath(new URL('../../src/store/sqlite/', import.meta.url));

test('every queued SQLite write is awaited or returned', () => {
  const floating: string[] = [];
  for (const name of readdirSync(SQLITE).filter((n) => n.endsWith('.ts'))) {
    readFileSync(join(SQLITE, name), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/\bthis\.write\(/.test(line) && !/(await|return|=>)\s+this\.write\(/.test(line)) floating.push(`src/store/sqlite/${name}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(floating, []);
});
