/**
 * `[admin] audit-retention`: the admin audit log keeps its entries that many
 * days; older ones are deleted in the background, at start-up and every
 * hour, in batches of AUDIT_PRUNE_BATCH (one short write transaction each,
 * the event loop free between them), so a log grown large over years is
 * trimmed without holding the store's write lock for long.
 *
 * Invariants: at most one sweep runs at a time per process; a failed sweep
 * is logged and retried at the next period; stop() waits for a running one.
 */
import type { Logger } from 'pino';
import type { AdminStore } from '../store/admin-types.js';
import { yieldToLoop } from '../store/shared/background.js';

/** Entries deleted per write transaction. */
export const AUDIT_PRUNE_BATCH = 500;
/** How often the sweep runs. */
const PERIOD_MS = 60 * 60 * 1000;
/** The first sweep, shortly after start-up (not in the start-up path itself). */
const FIRST_SWEEP_MS = 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The background sweep of the audit log. */
export class AuditRetention {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<unknown> | null = null;
  private stopped = false;

  /** `retentionDays` > 0 (0 keeps everything: do not start one). */
  constructor(
    private readonly store: Pick<AdminStore, 'pruneAudit'>,
    private readonly retentionDays: number,
    private readonly log: Logger,
  ) {}

  /** Starts the periodic sweep. */
  start(): void {
    const next = (delay: number): void => {
      this.timer = setTimeout(() => {
        this.sweeping = this.sweep()
          .catch((err: unknown) => this.log.warn({ err }, 'audit retention sweep failed'))
          .finally(() => {
            this.sweeping = null;
            if (!this.stopped) next(PERIOD_MS);
          });
      }, delay);
      this.timer.unref();
    };
    next(FIRST_SWEEP_MS);
  }

  /** Deletes every entry older than the retention, batch by batch; resolves to how many. */
  async sweep(now = new Date()): Promise<number> {
    const before = new Date(now.getTime() - this.retentionDays * DAY_MS);
    let total = 0;
    for (;;) {
      const n = await this.store.pruneAudit(before, AUDIT_PRUNE_BATCH);
      total += n;
      // Fewer than a batch: nothing older is left among the oldest entries (shared/admin.ts AUDIT_PRUNE_SQL).
      if (n < AUDIT_PRUNE_BATCH || this.stopped) break;
      await yieldToLoop();
    }
    if (total > 0) this.log.info({ deleted: total, before: before.toISOString() }, 'audit log entries past their retention deleted');
    return total;
  }

  /** Stops the sweeps; waits for one that is running. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.sweeping;
  }
}
