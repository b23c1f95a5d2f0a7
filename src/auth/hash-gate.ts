/**
 * Admission to password hashing: each verification costs one memory-hard hash
 * (argon2id or scrypt, auth/password.ts) on libuv's thread pool, which file
 * I/O shares (4 threads by default). The gate keeps at most `concurrency`
 * hashes running (below the pool size, so file I/O always has threads) and a
 * bounded queue behind them (issue 18, finding 4).
 *
 * Fairness. An attempt is "clean" when its address has no recent failures
 * (or its address and account logged in before); an address's waiters lose
 * that as soon as one of its attempts fails (`demote`).
 * - Clean waiters go first; within each class, addresses with fewer hashes
 *   running go first, then the oldest waiter.
 * - When more than one hash may run, one slot is kept for clean attempts, so
 *   a flood of bad passwords cannot make a real user wait, not even for a
 *   running hash to end.
 * - An address that is not clean runs at most `perAddress` hashes at once;
 *   clean addresses are bounded by the fair order only, so a webmail host or
 *   a NAT with many honest users is not serialized.
 * - When the queue is full a clean arrival takes the place of the newest
 *   waiter that is not clean; otherwise the arrival is refused and the caller
 *   answers NO [UNAVAILABLE] (RFC 5530).
 *
 * Invariant: running ≤ concurrency (≤ concurrency − 1 not clean, when
 * concurrency > 1); waiting ≤ queueLength.
 */

/** The gate's limits (config `auth-throttle`). */
export interface HashGateLimits {
  concurrency: number;
  /** Hashes at once for one address that is not clean. */
  perAddress: number;
  queueLength: number;
}

/** What `run` resolves to when the work was not started (queue full, or pushed out by a clean arrival). */
export const BUSY: unique symbol = Symbol('hash gate busy');

interface Waiter {
  address: string;
  clean: boolean;
  start(): void;
  refuse(): void;
}

/** Bounded, fair scheduling of password hashes for one process. */
export class HashGate {
  private running = 0;
  private readonly runningByAddress = new Map<string, number>();
  private readonly waiting: Waiter[] = [];

  constructor(private readonly limits: HashGateLimits) {}

  /** Runs `work` when a slot is free for `address`, or resolves to BUSY without running it. */
  async run<T>(address: string, clean: boolean, work: () => Promise<T>): Promise<T | typeof BUSY> {
    // Start at once only when no waiter could take the slot instead.
    if (this.canStart(address, clean) && this.nextRunnable() < 0) {
      this.take(address);
    } else {
      const admitted = await this.enqueue(address, clean);
      if (!admitted) return BUSY;
    }
    try {
      return await work();
    } finally {
      this.release(address);
    }
  }

  /** An attempt from `address` failed: its waiting attempts are no longer clean. */
  demote(address: string): void {
    for (const w of this.waiting) if (w.address === address) w.clean = false;
  }

  /** Hashes running and waiting (for tests and metrics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private runningFor(address: string): number {
    return this.runningByAddress.get(address) ?? 0;
  }

  private canStart(address: string, clean: boolean): boolean {
    const { concurrency, perAddress } = this.limits;
    if (clean) return this.running < concurrency;
    // One slot stays free for clean attempts when there is more than one.
    return this.running < (concurrency === 1 ? 1 : concurrency - 1) && this.runningFor(address) < perAddress;
  }

  private take(address: string): void {
    this.running++;
    this.runningByAddress.set(address, this.runningFor(address) + 1);
  }

  /** Resolves true once the waiter holds a slot, false when it was refused or pushed out. */
  private enqueue(address: string, clean: boolean): Promise<boolean> {
    if (this.waiting.length >= this.limits.queueLength) {
      const victim = clean ? this.newestNotClean() : -1;
      if (victim < 0) return Promise.resolve(false);
      this.waiting.splice(victim, 1)[0]!.refuse();
    }
    const admitted = new Promise<boolean>((resolve) => {
      this.waiting.push({ address, clean, start: () => resolve(true), refuse: () => resolve(false) });
    });
    this.startWaiters();
    return admitted;
  }

  private newestNotClean(): number {
    for (let i = this.waiting.length - 1; i >= 0; i--) if (!this.waiting[i]!.clean) return i;
    return -1;
  }

  private release(address: string): void {
    this.running--;
    const n = this.runningFor(address) - 1;
    if (n > 0) this.runningByAddress.set(address, n);
    else this.runningByAddress.delete(address);
    this.startWaiters();
  }

  /** Starts the best runnable waiter while slots are free. */
  private startWaiters(): void {
    while (this.running < this.limits.concurrency) {
      const i = this.nextRunnable();
      if (i < 0) return;
      const w = this.waiting.splice(i, 1)[0]!;
      this.take(w.address);
      w.start();
    }
  }

  /** The runnable waiter to start next: clean first, then the address with the fewest hashes running, then the oldest. */
  private nextRunnable(): number {
    let best = -1;
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i]!;
      if (!this.canStart(w.address, w.clean)) continue;
      if (best < 0 || this.before(w, this.waiting[best]!)) best = i;
    }
    return best;
  }

  private before(a: Waiter, b: Waiter): boolean {
    if (a.clean !== b.clean) return a.clean;
    return this.runningFor(a.address) < this.runningFor(b.address);
  }
}
