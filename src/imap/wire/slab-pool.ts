/**
 * Fixed-size buffers that FETCH reads message bodies into, one per window,
 * and gets back once the socket has taken the window's responses.
 *
 * Why: a buffer per message body (FETCH BODY[] of 1,000 messages allocated
 * about 12.7 MB of them) made V8 scavenge about once per such FETCH, and on a
 * small machine its garbage-collector threads then cost more CPU than the
 * FETCH itself (bench/README.md, "Row 5 and V8's garbage-collector threads").
 * Reused slabs allocate nothing in the steady state.
 *
 * Invariant: a slab is given back only when no response still refers to it
 * (ImapSession.whenWritten), since its next user overwrites it. A slab that
 * is never given back is simply collected.
 */
export class SlabPool {
  private readonly idle: Buffer[] = [];

  /** `maxIdle` bounds the memory kept between FETCHes: maxIdle × size bytes. */
  constructor(
    readonly size: number,
    private readonly maxIdle: number,
  ) {}

  /** An idle slab, or a new one; its bytes are left over from earlier use. */
  take(): Buffer {
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  /** Returns a slab that nothing refers to any more. */
  give(slab: Buffer): void {
    if (this.idle.length < this.maxIdle) this.idle.push(slab);
  }
}
