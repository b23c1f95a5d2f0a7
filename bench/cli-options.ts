/**
 * Command-line option helpers shared by the benchmark scripts.
 */

/** The integer value of option `--name`, or an error naming the allowed range. */
export function intOption(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number in [${min}, ${max}]`);
  return n;
}
