/**
 * The results table: one row per metric, the median of each server's runs and
 * ratios between servers, e.g. mailkeep / dovecot (above 1: mailkeep is
 * slower or bigger).
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
  if (v < 1) return `${Math.round(v * 1000)} µs`;
  if (v < 10) return `${v.toFixed(2)} ms`;
  if (v < 1000) return `${v.toFixed(1)} ms`;
  return `${Math.round(v).toLocaleString('en-US')} ms`;
}

/** The Markdown table: a median column per server in `columns`, then a ratio a/b column per pair in `ratios`. */
export function markdownTable(
  results: readonly MetricResult[],
  columns: readonly string[],
  ratios: ReadonlyArray<readonly [string, string]>,
  errors: ReadonlyMap<string, string>,
): string {
  const head = [...columns.map((c) => `${c} median`), ...ratios.map(([a, b]) => `ratio ${a}/${b}`)];
  const lines = [`| row | ${head.join(' | ')} |`, `| --- |${' ---: |'.repeat(head.length)}`];
  for (const r of results) {
    const cell = (server: string): { text: string; v: number } => {
      const err = errors.get(`${server}:${r.key}`);
      const xs = r.samples.get(server) ?? [];
      if (xs.length === 0) return { text: err ? 'error' : '–', v: NaN };
      const v = median(xs);
      return { text: formatValue(v, r.unit), v };
    };
    const cells = new Map(columns.map((c) => [c, cell(c)]));
    const ratio = ([a, b]: readonly [string, string]): string => {
      const x = cells.get(a)?.v ?? NaN;
      const y = cells.get(b)?.v ?? NaN;
      return Number.isFinite(x) && Number.isFinite(y) && y > 0 ? (x / y).toFixed(2) : '–';
    };
    const row = [...columns.map((c) => cells.get(c)!.text), ...ratios.map(ratio)];
    lines.push(`| ${r.row}. ${r.label.replace(/\|/g, '\\|')} | ${row.join(' | ')} |`);
  }
  return lines.join('\n');
}
