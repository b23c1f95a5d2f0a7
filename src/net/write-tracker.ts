/**
 * Tells when a writable stream has taken the buffers written to it, so that
 * their memory may be reused (FETCH reads message bodies into pooled slabs).
 *
 * A write is taken when its callback runs: the socket handed the bytes to the
 * kernel, or TLS or DEFLATE consumed them. Node runs write callbacks in write
 * order, so the callback of the last tracked write covers every write before
 * it, tracked or not. One tracker per stream: STARTTLS and COMPRESS put a new
 * stream in front of the socket, and their callbacks are not ordered with the
 * old one's.
 */
export class WriteTracker {
  private sent = 0;
  private taken = 0;
  /** Waiting callers, in the order of the write each waits for. */
  private readonly waiters: Array<{ write: number; resolve: () => void }> = [];

  /** The callback to pass to the stream's write(); counts one more tracked write. */
  counted(): () => void {
    this.sent++;
    return this.onTaken;
  }

  /**
   * Resolves once every tracked write so far, and `ahead` more, were taken
   * (at once if none is pending): `ahead` 1 covers output still waiting to be
   * written, which the next tracked write carries.
   */
  allTaken(ahead: 0 | 1 = 0): Promise<void> {
    const write = this.sent + ahead;
    if (this.taken >= write) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ write, resolve }));
  }

  // A failed write (the socket closed) runs its callback too: its bytes are not needed either.
  private readonly onTaken = (): void => {
    this.taken++;
    while (this.waiters.length > 0 && this.waiters[0]!.write <= this.taken) this.waiters.shift()!.resolve();
  };
}
