/**
 * Caps on concurrent connections, in total and per client address, shared by
 * every listener of a process.
 */

/** Counts open connections; acquire() says whether one more may open. */
export class ConnectionLimiter {
  private total = 0;
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerAddress: number,
  ) {}

  /** Reserves a slot; returns null when allowed, or the reason for refusing. */
  acquire(address: string): string | null {
    if (this.total >= this.maxTotal) return 'Too many connections to this server';
    const n = this.perAddress.get(address) ?? 0;
    if (n >= this.maxPerAddress) return 'Too many connections from your address';
    this.total++;
    this.perAddress.set(address, n + 1);
    return null;
  }

  /** Frees a slot taken by acquire(). */
  release(address: string): void {
    this.total--;
    const n = (this.perAddress.get(address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, n);
  }
}
