/**
 * The results table: one row per metric, the median of each server's runs and
 * the ratio mailkeep / dovecot (above 1: mailkeep is slower or bigger).
 */
import { median } from './stats.js';
import type { Metric } from './workload.js';

/** Samples of one metric, by server name. */
export interface MetricResult {
  /** Row number in the table, e.g. '6b' for the second metric of group 6. */
  row: string;
  key: string;
  label: string;
  unit: Metric['unit'];
  samples: Map<string, number[]>;
  /** The last detail each server gave. */
  details: Map<string, string>;
  /** Each server's first (warm-up, unmeasured) value, if any. */
  first: Map<string, number>;
}

/** A value with its unit, for the table. */
export function formatValue(v: number, unit: Metric['unit']): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (unit === 'bytes') return `${(v / 1024).toFixed(1)} KiB`;
  if (v < 10) return `${v.toFixed(2)} ms`;
  if (v < 1000) return `${v.toFixed(1)} ms`;
  return `${Math.round(v).toLocaleString('en-US')} ms`;
}

/** The Markdown table; `a` and `b` are the server names compared (ratio a/b). */
export function markdownTable(results: readonly MetricResult[], a: string, b: string, errors: ReadonlyMap<string, string>): string {
  const lines = [`| row | ${a} median | ${b} median | ratio ${a}/${b} |`, '| --- | ---: | ---: | ---: |'];
  for (const r of results) {
    const cell = (server: string): { text: string; v: number } => {
      const err = errors.get(`${server}:${r.key}`);
      const xs = r.samples.get(server) ?? [];
      if (xs.length === 0) return { text: err ? 'error' : '–', v: NaN };
      const v = median(xs);
      return { text: formatValue(v, r.unit), v };
    };
    const x = cell(a);
    const y = cell(b);
    const ratio = Number.isFinite(x.v) && Number.isFinite(y.v) && y.v > 0 ? `${(x.v / y.v).toFixed(2)}` : '–';
    lines.push(`| ${r.row}. ${r.label.replace(/\|/g, '\\|')} | ${x.text} | ${y.text} | ${ratio} |`);
  }
  return lines.join('\n');
}
