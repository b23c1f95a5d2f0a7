/**
 * Long mail operations on the command line (import, export, migrate):
 * progress on stderr and a clean stop on Ctrl-C.
 *
 * Progress: on a terminal a bar redrawn in place (counts, bytes, rate, ETA);
 * otherwise (logs, pipes, CI) a plain line every few seconds and one at the
 * end. Ctrl-C: the first stops the operation after the batch being committed
 * (the store stays consistent: every batch is one transaction) and the
 * command exits 130; a second exits at once, which is also safe — an
 * uncommitted transaction leaves no trace.
 */
import type { AccountId } from '../ids.js';
import type { ProgressSink, TransferSummary } from '../mail/import/types.js';
import type { Config } from '../config/schema.js';
import type { OpenedStore } from '../store/open.js';
import { CliError } from './cli-error.js';
import { withStore } from './with-store.js';

/** Exit code after Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/** Where progress is written: stderr, or a test's stand-in. */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

/** Options of Progress. */
export interface ProgressOptions {
  /** Ms between plain lines when not on a terminal (default 5000). */
  plainIntervalMs?: number;
  /** Ms between bar redraws on a terminal (default 100). */
  barIntervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** A snapshot of progress. */
export interface ProgressState {
  messages: number;
  bytes: number;
  totalMessages?: number;
  totalBytes?: number;
  elapsedMs: number;
}

const BAR_WIDTH = 24;

/** Bytes in binary units: `512 B`, `12.3 MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Seconds as `42s`, `3:07` or `1:02:03`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${p2(m)}:${p2(s % 60)}` : `${m}:${p2(s % 60)}`;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** The share done (0–1) by messages, else by bytes; null when no total is known. */
function fraction(st: ProgressState): number | null {
  if (st.totalMessages) return Math.min(1, st.messages / st.totalMessages);
  if (st.totalBytes) return Math.min(1, st.bytes / st.totalBytes);
  return null;
}

/** The text of a progress report: counts, bytes, rate and ETA (no bar). */
export function progressText(st: ProgressState): string {
  const secs = st.elapsedMs / 1000;
  const parts = [
    st.totalMessages !== undefined ? `${count(st.messages)}/${count(st.totalMessages)} messages` : `${count(st.messages)} messages`,
    st.totalBytes !== undefined ? `${formatBytes(st.bytes)}/${formatBytes(st.totalBytes)}` : formatBytes(st.bytes),
  ];
  if (secs >= 1) parts.push(`${count(Math.round(st.messages / secs))} msg/s`);
  const f = fraction(st);
  if (f !== null && f > 0 && f < 1 && secs >= 1) parts.push(`ETA ${formatDuration((secs * (1 - f)) / f)}`);
  return parts.join(', ');
}

/** A ProgressSink that draws on a terminal or prints plain lines. */
export class Progress implements ProgressSink {
  private readonly started: number;
  private readonly now: () => number;
  private state: ProgressState = { messages: 0, bytes: 0, elapsedMs: 0 };
  private lastDraw: number;
  private drawnMessages = -1;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly out: ProgressStream,
    private readonly opts: ProgressOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    // The first report comes one interval in: a short operation prints only its final line.
    this.lastDraw = this.started;
  }

  begin(totals: { messages?: number; bytes?: number }): void {
    this.state = {
      ...this.state,
      ...(totals.messages !== undefined ? { totalMessages: totals.messages } : {}),
      ...(totals.bytes !== undefined ? { totalBytes: totals.bytes } : {}),
    };
  }

  advance(messages: number, bytes: number): void {
    this.state.messages += messages;
    this.state.bytes += bytes;
    const now = this.now();
    const interval = this.out.isTTY ? (this.opts.barIntervalMs ?? 100) : (this.opts.plainIntervalMs ?? 5000);
    if (now - this.lastDraw < interval) return;
    this.lastDraw = now;
    this.draw(now);
  }

  /** Ends the display: the bar's line is finished, or a last plain line is printed. */
  finish(): void {
    if (this.drawnMessages !== this.state.messages || this.state.messages === 0) this.draw(this.now());
    if (this.out.isTTY) this.out.write('\n');
  }

  private draw(now: number): void {
    this.state.elapsedMs = now - this.started;
    this.drawnMessages = this.state.messages;
    const text = progressText(this.state);
    if (!this.out.isTTY) {
      this.out.write(`${this.label}: ${text}\n`);
      return;
    }
    const f = fraction(this.state);
    const bar = f === null ? '' : `[${'#'.repeat(Math.round(f * BAR_WIDTH)).padEnd(BAR_WIDTH, '-')}] ${Math.floor(f * 100)}% `;
    const line = `${this.label} ${bar}${text}`;
    // \r and erase-line redraw in place; cut to the terminal width so the line never wraps.
    this.out.write(`\r\x1b[K${line.slice(0, Math.max(10, (this.out.columns ?? 80) - 1))}`);
    this.drawn = true;
  }

  /** Whether anything was drawn on a terminal line (so a message must start on a new line). */
  get onBarLine(): boolean {
    return this.drawn && this.out.isTTY === true;
  }
}

/**
 * Runs a long operation with progress on stderr and Ctrl-C handling (see the
 * module comment). Throws CliError(130) when interrupted, after printing what was done.
 */
export async function runLongOperation(
  label: string,
  describe: (summary: TransferSummary) => string,
  operation: (signal: AbortSignal, progress: Progress, warn: (message: string) => void) => Promise<TransferSummary>,
): Promise<void> {
  const controller = new AbortController();
  const progress = new Progress(label, process.stderr);
  const warn = (message: string): void => {
    process.stderr.write(`${progress.onBarLine ? '\r\x1b[K' : ''}mailkeep: warning: ${message}\n`);
  };
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    controller.abort();
    warn('interrupted: stopping after the current batch (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', onSigint);
  let summary: TransferSummary;
  try {
    summary = await operation(controller.signal, progress, warn);
  } finally {
    process.off('SIGINT', onSigint);
    progress.finish();
  }
  process.stdout.write(`${describe(summary)}\n`);
  if (summary.interrupted) throw new CliError('interrupted; run the same command again to resume', EXIT_INTERRUPTED);
}

/** Opens the store of a configuration, finds the account, runs fn, and closes the store. */
export async function withAccount<T>(config: Config, name: string, fn: (store: OpenedStore, accountId: AccountId) => Promise<T>): Promise<T> {
  return withStore(config, async (store) => {
    const account = await store.findAccount(name);
    if (!account) throw new CliError(`no such user: ${name}`);
    return fn(store, account.id);
  });
}

/** `1 mailbox`, `2 mailboxes`. */
export function plural(n: number, one: string, many: string): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** The common end of a summary line: what was skipped or left out. */
export function summaryTail(s: TransferSummary): string {
  const parts: string[] = [];
  if (s.skipped > 0) parts.push(`${count(s.skipped)} already there`);
  if (s.rejected > 0) parts.push(`${count(s.rejected)} left out (see warnings)`);
  return parts.length > 0 ? `; ${parts.join(', ')}` : '';
}
