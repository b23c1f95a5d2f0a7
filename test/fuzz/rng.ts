/**
 * A small seeded PRNG (splitmix32 seeding a xorshift128) for the fuzzer: every
 * input is generated from (run seed, input index) alone, so one failing input
 * can be regenerated without replaying the run.
 */

/** splitmix32: spreads one 32-bit value into a well-mixed one. */
function mix(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Deterministic random choices from a seed. */
export class Rng {
  private s: Uint32Array;

  constructor(seed: number, stream = 0) {
    const a = mix(seed ^ mix(stream));
    this.s = new Uint32Array([mix(a), mix(a + 1), mix(a + 2), mix(a + 3) || 1]);
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const s = this.s;
    let t = s[3]!;
    const x = s[0]!;
    s[3] = s[2]!;
    s[2] = s[1]!;
    s[1] = x;
    t ^= t << 11;
    t ^= t >>> 8;
    s[0] = (t ^ x ^ (x >>> 19)) >>> 0;
    return s[0]!;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.u32() % items.length]!;
  }

  /** Picks by weight: [[weight, value], ...]. */
  weighted<T>(items: ReadonlyArray<readonly [number, T]>): T {
    const total = items.reduce((n, [w]) => n + w, 0);
    let r = this.u32() % total;
    for (const [w, v] of items) {
      if (r < w) return v;
      r -= w;
    }
    return items[items.length - 1]![1];
  }

  /** A small size, mostly tiny, sometimes large: lengths of strings and lists. */
  size(max: number): number {
    const r = this.u32() % 100;
    if (r < 60) return this.int(0, Math.min(max, 8));
    if (r < 90) return this.int(0, Math.min(max, 64));
    return this.int(0, max);
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}
