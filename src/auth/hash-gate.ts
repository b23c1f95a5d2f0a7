/**
 * Admission to password hashing: each verification costs one 32 MiB scrypt on
 * libuv's thread pool, which file I/O shares (4 threads by default). The gate
 * keeps at most `concurrency` hashes running (below the pool size, so file I/O
 * always has threads), at most `perAddress` per client address, and a bounded
 * queue behind them (issue 18, finding 4).
 *
 * Fairness: waiters from addresses without recent failures ("clean") go
 * before the others, and when more than one hash may run, one slot is kept for
 * clean attempts, so a flood of bad passwords cannot make a real user wait
 * behind it, not even for a running hash to end. When the queue is full a clean arrival takes the place of the
 * newest waiter that is not clean; otherwise the arrival is refused and the
 * caller answers NO [UNAVAILABLE] (RFC 5530).
 *
 * Invariant: running ≤ concurrency (≤ concurrency − 1 not clean, when
 * concurrency > 1), per address ≤ perAddress, waiting ≤ queueLength.
 */

/** The gate's limits (config `auth-throttle`). */
export interface HashGateLimits {
  concurrency: number;
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
    if (!this.canStart(address, clean)) {
      const admitted = await this.enqueue(address, clean);
      if (!admitted) return BUSY;
    } else {
      this.take(address);
    }
    try {
      return await work();
    } finally {
      this.release(address);
    }
  }

  /** Hashes running and waiting (for tests and metrics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private canStart(address: string, clean: boolean): boolean {
    return this.running < this.slotsFor(clean) && (this.runningByAddress.get(address) ?? 0) < this.limits.perAddress;
  }

  /** Slots a waiter may use: all when clean, all but one kept for clean ones otherwise. */
  private slotsFor(clean: boolean): number {
    const { concurrency } = this.limits;
    return clean || concurrency === 1 ? concurrency : concurrency - 1;
  }

  private take(address: string): void {
    this.running++;
    this.runningByAddress.set(address, (this.runningByAddress.get(address) ?? 0) + 1);
  }

  /** Resolves true once the waiter holds a slot, false when it was refused or pushed out. */
  private enqueue(address: string, clean: boolean): Promise<boolean> {
    if (this.waiting.length >= this.limits.queueLength) {
      const victim = clean ? this.newestNotClean() : -1;
      if (victim < 0) return Promise.resolve(false);
      this.waiting.splice(victim, 1)[0]!.refuse();
    }
    return new Promise<boolean>((resolve) => {
      this.waiting.push({ address, clean, start: () => resolve(true), refuse: () => resolve(false) });
    });
  }

  private newestNotClean(): number {
    for (let i = this.waiting.length - 1; i >= 0; i--) if (!this.waiting[i]!.clean) return i;
    return -1;
  }

  private release(address: string): void {
    this.running--;
    const n = (this.runningByAddress.get(address) ?? 1) - 1;
    if (n > 0) this.runningByAddress.set(address, n);
    else this.runningByAddress.delete(address);
    this.startWaiters();
  }

  /** Starts waiters while slots are free: the first clean one that may run, else the first other one. */
  private startWaiters(): void {
    while (this.running < this.limits.concurrency) {
      const i = this.nextRunnable();
      if (i < 0) return;
      const w = this.waiting.splice(i, 1)[0]!;
      this.take(w.address);
      w.start();
    }
  }

  private nextRunnable(): number {
    let other = -1;
    for (let i = 0; i < this.waiting.length; i++) {
      const w = this.waiting[i]!;
      if (!this.canStart(w.address, w.clean)) continue;
      if (w.clean) return i;
      if (other < 0) other = i;
    }
    return other;
  }
}
