/**
 * WriteTracker tells when a stream has taken what was written to it, so FETCH
 * can reuse the slab its responses point into.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { WriteTracker } from '../src/net/write-tracker.js';

/** A stream that takes each write only when the test says so. */
function heldStream(): { stream: Writable; takeNext(): void; takeAll(): void } {
  const held: Array<() => void> = [];
  const stream = new Writable({
    highWaterMark: 1,
    write(_chunk, _enc, done) {
      held.push(done);
    },
  });
  return {
    stream,
    takeNext: () => held.shift()!(),
    takeAll: () => {
      while (held.length > 0) held.shift()!();
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('allTaken resolves only after the last tracked write so far was taken, not a later one', async () => {
  const tracker = new WriteTracker();
  const { stream, takeNext, takeAll } = heldStream();
  const order: string[] = [];
  assert.equal(await Promise.race([tracker.allTaken().then(() => 'done'), tick().then(() => 'waiting')]), 'done', 'nothing pending');

  stream.write(Buffer.from('a'), tracker.counted());
  stream.write(Buffer.from('b')); // untracked: covered by the tracked write after it
  stream.write(Buffer.from('c'), tracker.counted());
  void tracker.allTaken().then(() => order.push('first'));
  stream.write(Buffer.from('d'), tracker.counted());
  void tracker.allTaken().then(() => order.push('second'));

  takeNext(); // a
  await tick();
  assert.deepEqual(order, []);
  takeNext(); // b
  takeNext(); // c
  await tick();
  assert.deepEqual(order, ['first']);
  takeAll(); // d
  await tick();
  assert.deepEqual(order, ['first', 'second']);
});

test('allTaken(1) also waits for the next tracked write, which carries output still queued', async () => {
  const tracker = new WriteTracker();
  const { stream, takeAll } = heldStream();
  let done = false;
  void tracker.allTaken(1).then(() => (done = true));
  takeAll();
  await tick();
  assert.equal(done, false, 'nothing was written yet');
  stream.write(Buffer.from('queued output'), tracker.counted());
  await tick();
  assert.equal(done, false, 'written, not taken');
  takeAll();
  await tick();
  assert.equal(done, true);
});

test('writes still queued when the socket is destroyed count as taken', { timeout: 10_000 }, async () => {
  // A peer that never reads: the kernel's buffers fill and the rest waits in the socket.
  const peers: Socket[] = [];
  const server = createServer((peer) => {
    peer.pause();
    peers.push(peer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => sock.once('connect', resolve));
  sock.on('error', () => undefined);
  const tracker = new WriteTracker();
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < 32; i++) sock.write(chunk, tracker.counted());
  const taken = tracker.allTaken();
  await tick();
  assert.ok(sock.writableLength > 0, 'writes are queued');
  assert.equal(await Promise.race([taken.then(() => 'taken'), tick().then(() => 'waiting')]), 'waiting');
  sock.destroy();
  await taken;
  for (const peer of peers) peer.destroy();
  await new Promise((resolve) => server.close(resolve));
});
