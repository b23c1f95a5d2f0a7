/**
 * Log lines for events any peer can cause at will (failed TLS handshakes,
 * refused connections): at most `perMinute` lines a minute per process, then
 * one summary of those left out, so a flood cannot fill the log.
 */
import type { Logger } from 'pino';

const MINUTE_MS = 60_000;

/** At most `perMinute` lines a minute at `level`; the rest are counted in one summary line naming `what`. */
export class RateLimitedLog {
  private windowStart = 0;
  private logged = 0;
  private suppressed = 0;
  private summaryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: Logger,
    private readonly perMinute: number,
    private readonly what: string,
    private readonly level: 'info' | 'warn' = 'info',
  ) {}

  report(fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now - this.windowStart >= MINUTE_MS) this.newWindow(now);
    if (this.logged < this.perMinute) {
      this.logged++;
      this.log[this.level](fields, message);
      return;
    }
    this.suppressed++;
    this.summaryTimer ??= setTimeout(() => this.newWindow(Date.now()), this.windowStart + MINUTE_MS - now).unref();
  }

  private newWindow(now: number): void {
    if (this.summaryTimer) clearTimeout(this.summaryTimer);
    this.summaryTimer = null;
    if (this.suppressed > 0) this.log[this.level]({ count: this.suppressed }, `more ${this.what} in the last minute (not logged one by one)`);
    this.windowStart = now;
    this.logged = 0;
    this.suppressed = 0;
  }
}
