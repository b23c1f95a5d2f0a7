import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SliceSize } from '../src/imap/session/slices.js';

/** The slice lengths one command runs in, each slice costing `costMs` of CPU. */
async function sliceLengths(size: SliceSize, count: number, limit: number, costMs = 0): Promise<number[]> {
  const lengths: number[] = [];
  const items = Array.from({ length: count }, (_, i) => i);
  await size.inSlices(items, limit, async (slice) => {
    lengths.push(slice.length);
    // CPU time, the cost a slice is measured by (wall time would shrink on a loaded machine).
    const before = process.cpuUsage();
    while (costMs > 0) {
      const used = process.cpuUsage(before);
      if ((used.user + used.system) / 1000 >= costMs) break;
    }
  });
  return lengths;
}

describe('SliceSize', () => {
  it('slow-starts on its first command only, then starts where the last left off', async () => {
    const size = new SliceSize();
    assert.deepEqual(await sliceLengths(size, 1_000, 500), [100, 200, 400, 300]);
    // A second STORE over 3,000 messages commits 6 times, not 8.
    assert.deepEqual(await sliceLengths(size, 3_000, 500), [500, 500, 500, 500, 500, 500]);
  });

  it('a small command neither grows the size nor restarts it', async () => {
    const size = new SliceSize();
    await sliceLengths(size, 1_000, 500);
    assert.deepEqual(await sliceLengths(size, 30, 500), [30]);
    assert.deepEqual(await sliceLengths(size, 1_000, 500), [500, 500]);
  });

  it('a costly slice halves the size for the next command too, down to the smallest', async () => {
    const size = new SliceSize();
    await sliceLengths(size, 1_000, 500);
    // Each slice over 8 ms of CPU: 500, then 250, then 125 (never below 100).
    assert.deepEqual(await sliceLengths(size, 875, 500, 12), [500, 250, 125]);
    assert.deepEqual(await sliceLengths(size, 200, 500), [100, 100]);
  });

  it('a lower limit applies at once', async () => {
    const size = new SliceSize();
    await sliceLengths(size, 1_000, 500);
    assert.deepEqual(await sliceLengths(size, 5, 2), [2, 2, 1]);
  });
});
