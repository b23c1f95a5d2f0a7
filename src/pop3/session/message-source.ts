/**
 * The stored bytes of a message as a sequence of chunks, for RETR, TOP and
 * size counting: a small message in one bounded read (readWhole), a big one
 * streamed with backpressure so memory stays bounded whatever the message
 * size (DESIGN invariant 6).
 */
import type { BlobStore } from '../../store/types.js';

/** Messages up to this size are read whole (and may be read ahead); larger ones are streamed. */
export const READ_WHOLE_LIMIT = 256 * 1024;

/** Yields the blob's bytes in order; `early` is a whole-blob read already under way (read-ahead). */
export async function* messageChunks(blobs: BlobStore, blobId: string, storedSize: number, early?: Promise<Buffer>): AsyncGenerator<Buffer> {
  if (early) {
    yield await early;
    return;
  }
  if (storedSize <= READ_WHOLE_LIMIT) {
    yield await readWhole(blobs, blobId, storedSize);
    return;
  }
  for await (const chunk of blobs.createReadStream(blobId) as AsyncIterable<Buffer>) yield chunk;
}

/**
 * A small message in one read. The range is bounded by the stored size, so
 * the blob store can serve it with one synchronous pread from the page cache
 * instead of thread-pool round trips (fs-blob-store.ts SYNC_READ_MAX).
 */
export function readWhole(blobs: BlobStore, blobId: string, storedSize: number): Promise<Buffer> {
  return blobs.read(blobId, 0, storedSize);
}
