/**
 * The readiness check behind /readyz: the store answers one cheap query
 * (its schema version, which also says the migrations are done), and the
 * listeners are bound and not closing. The store query is bounded in time so
 * a hung database makes the server unready, not the check hang.
 */
import type { Readiness } from '../web/health-routes.js';
import type { MailStore } from '../store/types.js';

/** A store that has not answered in this long counts as unreachable. */
const STORE_TIMEOUT_MS = 2000;

/** The server's side of readiness: set as it starts and stops. */
export class ReadinessState {
  /** Every configured listener is bound (startServer finished). */
  listening = false;
  /** Shutdown has begun: load balancers should stop sending. */
  stopping = false;

  constructor(private readonly store: Pick<MailStore, 'schemaVersion'>) {}

  /** Checks the store now and reports with the listener state. */
  async check(): Promise<Readiness> {
    const reasons: string[] = [];
    if (!this.listening) reasons.push('listeners not bound yet');
    if (this.stopping) reasons.push('shutting down');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${STORE_TIMEOUT_MS} ms`)), STORE_TIMEOUT_MS);
    });
    try {
      const { current, expected } = await Promise.race([this.store.schemaVersion(), timeout]);
      if (current !== expected) reasons.push(`store schema version ${current}, this mailkeep needs ${expected}`);
    } catch (err) {
      reasons.push(`store unreachable: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    return { ready: reasons.length === 0, reasons };
  }
}
