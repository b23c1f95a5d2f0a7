/**
 * Obtains and renews the ACME certificates of the configured names: one
 * order per name (a name that fails validation cannot block the others),
 * renewal at two thirds of a certificate's lifetime, retries with a growing
 * delay after a failure, results under data-dir/tls/acme/ (acme/files.ts).
 *
 * Renewal time: acme-client 5.4 has no ACME Renewal Information (RFC 9773),
 * so the CA's suggested window is not asked for; two thirds of the lifetime
 * (Let's Encrypt: day 60 of 90) is used.
 *
 * Invariants: exactly one process per data dir runs this (the lock in
 * tls/acme/); orders run one at a time; a failed order writes only its error
 * into state.json and never touches a pair on disk, so a valid certificate is
 * never replaced by nothing; a new pair is loaded before state.json records
 * it; until a name's first certificate arrives, the default pair serves
 * (net/certificates.ts).
 */
import { X509Certificate } from 'node:crypto';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { AcmeChallenges } from './challenges.js';
import { type AcmeCertificateState, readAcmeState } from '../net/acme-files.js';
import { acmeNames, acmePaths, privateDir, readIfExists, releaseLock, takeLock, writeAtomically } from './files.js';
import { AcmeError, accountClient, newPrivateKey, orderCertificate, trustDirectoryCa } from './order.js';

/** First retry after a failed order; each further failure doubles it (Let's Encrypt allows 5 failed validations an hour). */
const RETRY_BASE_MS = 5 * 60_000;
const RETRY_MAX_MS = 12 * 3600_000;
/** setTimeout holds at most 2^31-1 ms; a renewal further away is re-checked after this long. */
const MAX_TIMER_MS = 24 * 3600_000;
/** How long stop() waits for an order in flight. */
const STOP_WAIT_MS = 5_000;

/** What the manager needs of the certificate source: a reload after a new pair is written. */
export interface Reloadable {
  reload(reason: string): Promise<boolean>;
}

/** When a certificate should be renewed: two thirds of the way from notBefore to notAfter. */
export function renewalTime(cert: X509Certificate): Date {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return new Date(from + ((to - from) * 2) / 3);
}

export class AcmeManager {
  private readonly paths: ReturnType<typeof acmePaths>;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  /** Orders run one after another on this chain. */
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  private client: ReturnType<typeof accountClient> | null = null;

  private constructor(
    private readonly config: Pick<Config, 'dataDir' | 'hostname' | 'acme'>,
    private readonly log: Logger,
    private readonly challenges: AcmeChallenges,
    private readonly certificates: Reloadable,
  ) {
    this.paths = acmePaths(config.dataDir);
  }

  /** The names ordered, one certificate each. */
  get names(): string[] {
    return acmeNames(this.config);
  }

  /**
   * Starts ACME for this data dir when no other live process runs it; resolves
   * null (logged) when one does. Orders what is missing or due in the background.
   */
  static async start(
    config: Pick<Config, 'dataDir' | 'hostname' | 'acme'>,
    log: Logger,
    challenges: AcmeChallenges,
    certificates: Reloadable,
  ): Promise<AcmeManager | null> {
    const paths = acmePaths(config.dataDir);
    await privateDir(paths.dir);
    const holder = await takeLock(paths.lock);
    if (holder !== null) {
      log.info(
        { pid: holder, lock: paths.lock },
        'ACME for this data dir runs elsewhere (the lock holder); the certificates it writes are picked up from there',
      );
      return null;
    }
    await trustDirectoryCa(config.acme.caFile);
    const manager = new AcmeManager(config, log, challenges, certificates);
    for (const name of manager.names) await manager.scheduleFromDisk(name);
    return manager;
  }

  /** Orders every name now, whatever their renewal time; resolves when done (tests, and forced renewal). */
  async renewNow(): Promise<void> {
    await Promise.all(this.names.map((name) => this.enqueue(name)));
  }

  /** Stops the timers, waits a little for an order in flight, releases the lock. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await Promise.race([this.queue, new Promise((resolve) => setTimeout(resolve, STOP_WAIT_MS).unref())]);
    await releaseLock(this.paths.lock);
  }

  /** Schedules `name` by the certificate on disk: ordered now when there is none or it is due. */
  private async scheduleFromDisk(name: string): Promise<void> {
    const pem = await readIfExists(this.paths.cert(name));
    if (pem === null) {
      this.log.info({ name }, 'no ACME certificate yet: ordering one; until it arrives the default certificate serves');
      void this.enqueue(name);
      return;
    }
    this.schedule(name, renewalTime(new X509Certificate(pem)));
  }

  private schedule(name: string, at: Date): void {
    if (this.stopped) return;
    clearTimeout(this.timers.get(name));
    const wait = at.getTime() - Date.now();
    const timer = setTimeout(
      () => {
        this.timers.delete(name);
        if (wait > MAX_TIMER_MS) this.schedule(name, at);
        else void this.enqueue(name);
      },
      Math.max(0, Math.min(wait, MAX_TIMER_MS)),
    );
    timer.unref();
    this.timers.set(name, timer);
  }

  /** Queues an order for `name`; resolves when it has run (success or failure, both recorded). */
  private enqueue(name: string): Promise<void> {
    const run = this.queue.then(() => (this.stopped ? undefined : this.order(name)));
    this.queue = run;
    return run;
  }

  private async order(name: string): Promise<void> {
    try {
      this.client ??= this.account();
      const pair = await orderCertificate(await this.client, name, this.config.acme.challenge, this.challenges);
      const cert = new X509Certificate(pair.certPem);
      const renewAt = renewalTime(cert);
      await privateDir(dirname(this.paths.cert(name)));
      await writeAtomically(this.paths.key(name), pair.keyPem);
      await writeAtomically(this.paths.cert(name), pair.certPem);
      this.log.info({ name, notAfter: cert.validTo, renewAt, serial: cert.serialNumber }, 'ACME certificate obtained');
      // Served first, then recorded: once state.json says so, new handshakes here get the new pair.
      await this.certificates.reload('acme');
      const now = new Date().toISOString();
      await this.updateState(name, { notAfter: new Date(cert.validTo).toISOString(), renewAt: renewAt.toISOString(), lastSuccess: now, lastError: null });
      this.failures.delete(name);
      this.schedule(name, renewAt);
    } catch (err) {
      // The account is set up again with the next order, in case that step was the one that failed.
      this.client = null;
      await this.failed(name, err);
    }
  }

  /** Records a failure in the log and state.json and retries later; the pair on disk (if any) stays in use. */
  private async failed(name: string, err: unknown): Promise<void> {
    const count = (this.failures.get(name) ?? 0) + 1;
    this.failures.set(name, count);
    const retryMs = Math.min(RETRY_BASE_MS * 2 ** (count - 1), RETRY_MAX_MS);
    const problem =
      err instanceof AcmeError ? err.problem : { type: 'urn:mailkeep:acme:local', detail: err instanceof Error ? err.message : String(err), status: null };
    const retryAt = new Date(Date.now() + retryMs);
    this.log.error({ name, problem, retryAt }, 'ACME order failed; the certificate in use stays');
    try {
      await this.updateState(name, { lastError: { time: new Date().toISOString(), ...problem } });
    } catch (writeErr) {
      this.log.error({ name, err: writeErr }, 'cannot record the ACME error in state.json');
    }
    this.schedule(name, retryAt);
  }

  /** The account client: the key under tls/acme/ (created on first use), registered or found again at the CA. */
  private async account(): ReturnType<typeof accountClient> {
    let key = await readIfExists(this.paths.accountKey);
    if (key === null) {
      key = await newPrivateKey();
      await writeAtomically(this.paths.accountKey, key);
      this.log.info({ file: this.paths.accountKey }, 'ACME account key created');
    }
    return accountClient(this.config.acme.directory, key, this.config.acme.email);
  }

  /** Changes one name's entry of state.json (the contract with `mailkeep cert status`, net/acme-files.ts). */
  private async updateState(name: string, change: Partial<AcmeCertificateState>): Promise<void> {
    const states = await readAcmeState(this.config.dataDir).catch((err: Error) => {
      this.log.warn({ problem: err.message }, 'ACME state file unreadable; writing a new one');
      return new Map<string, AcmeCertificateState>();
    });
    const before = states.get(name) ?? { names: [name], notAfter: null, renewAt: null, lastSuccess: null, lastError: null };
    states.set(name, { ...before, ...change, names: [name] });
    await writeAtomically(this.paths.state, `${JSON.stringify({ certificates: Object.fromEntries(states) }, null, 2)}\n`);
  }
}
