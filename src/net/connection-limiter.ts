/**
 * Caps on concurrent connections, in total and per client address, shared by
 * every listener of a process; with cluster workers, held by the primary for
 * all of them (server/cluster-limits.ts).
 */

/** An admitted connection's slot, to give back once when it closes; or the reason for refusing it. */
export type ConnectionAdmission = { release(): void } | { refusal: string };

/** Where a listener takes a slot for each connection it accepts. */
export interface ConnectionGate {
  /** Takes a slot for a connection from `address`, or says why not; never waits long. */
  admit(address: string): Promise<ConnectionAdmission>;
}

/** Counts open connections; acquire() says whether one more may open. */
export class ConnectionLimiter implements ConnectionGate {
  private total = 0;
  private readonly perAddress = new Map<string, number>();

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerAddress: number,
  ) {}

  /** This process's count decides, with no round trip (one process, `--workers 1`). */
  async admit(address: string): Promise<ConnectionAdmission> {
    const refusal = this.acquire(address);
    return refusal === null ? { release: () => this.release(address) } : { refusal };
  }

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
