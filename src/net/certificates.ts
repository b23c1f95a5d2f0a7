/**
 * The certificates every TLS endpoint serves (IMAP 993 and STARTTLS, POP3 995
 * and STLS, HTTPS): one default pair and further pairs chosen by the client's
 * server name (SNI, RFC 6066 §3); see certificate-set.ts for where they come
 * from and tls-policy.ts for what the handshakes accept.
 *
 * Invariants: a handshake reads the current set when it starts, so a reload
 * applies to the next handshake and never touches an established session;
 * reloads run one at a time and swap the whole set at once; a pair that fails
 * to load keeps the version in use and says why in the log, naming the file.
 */
import path from 'node:path';
import type { SecureContext } from 'node:tls';
import type { Logger } from '../log.js';
import { type CertificateConfig, type CertificateSet, loadCertificateSet, pairsInUse, selectPair, type ServedCertificate } from './certificate-set.js';
import { acmeCertificateNames, acmeCertificatePaths, acmeDir } from './acme-files.js';
import { FileWatch } from './file-watch.js';

export { certificateNames, nameMatches, type ServedCertificate } from './certificate-set.js';

type SniCallback = (servername: string, done: (err: Error | null, ctx?: SecureContext) => void) => void;

/**
 * What a server-side handshake needs: a default context and the SNI choice.
 * The contexts carry the TLS policy (versions, ciphers), so whoever uses them
 * — `new TLSSocket(raw, { isServer: true, ...handshakeOptions() })`, or an
 * HTTPS server doing the same per connection — gets it too.
 */
export interface CertificateSource {
  /** Options for `new TLSSocket(raw, { isServer: true, ...options })`, taken at each handshake. */
  handshakeOptions(): { secureContext: SecureContext; SNICallback: SniCallback };
}

/**
 * The paths whose change means a reload: tls-cert/tls-key and [[tls.certificates]]
 * (an operator's or certbot's files), ACME's certs/ directory (a name added or
 * removed) and each ACME certificate's directory (its files renamed into place,
 * here or by the process that runs ACME).
 */
async function watchedPaths(config: CertificateConfig): Promise<string[]> {
  const configured = config.tlsCert !== null && config.tlsKey !== null ? [config.tlsCert, config.tlsKey] : [];
  const acme = (await acmeCertificateNames(config.dataDir)).map((name) => acmeCertificatePaths(config.dataDir, name).dir);
  return [...configured, ...config.tls.certificates.flatMap((p) => [p.cert, p.key]), path.join(acmeDir(config.dataDir), 'certs'), ...acme];
}

/** Every pair in use, reloadable; watches the configured files when asked. */
export class Certificates implements CertificateSource {
  private queue: Promise<boolean> = Promise.resolve(true);
  private watch: FileWatch | null = null;

  private constructor(
    private readonly config: CertificateConfig,
    private readonly log: Logger,
    private set: CertificateSet,
  ) {}

  /**
   * Loads every pair; rejects (naming the file) when the default is unusable,
   * since then nothing could be served. Other pairs that fail are logged and left out.
   * With `watch`, a change of the files reloads (see watchedPaths, file-watch.ts).
   */
  static async load(config: CertificateConfig, log: Logger, options: { watch?: boolean } = {}): Promise<Certificates> {
    const { set, problems } = await loadCertificateSet(config, log, null);
    for (const p of problems) log.error({ file: p.file, problem: p.problem }, 'TLS certificate refused');
    const certificates = new Certificates(config, log, set);
    if (options.watch) {
      certificates.watch = new FileWatch(() => void certificates.reload('files changed'));
      certificates.watch.update(await watchedPaths(config));
    }
    return certificates;
  }

  /** The pair served when the client names no server, or a name no other pair covers. */
  get default(): ServedCertificate {
    return this.set.defaultPair;
  }

  /** Every pair in use, the default first. */
  list(): ServedCertificate[] {
    return pairsInUse(this.set);
  }

  /** The pair for a server name: exact name, then wildcard, else the default. */
  select(servername: string | undefined): ServedCertificate {
    return selectPair(this.set, servername);
  }

  handshakeOptions(): { secureContext: SecureContext; SNICallback: SniCallback } {
    const set = this.set;
    return { secureContext: set.defaultPair.context, SNICallback: (servername, done) => done(null, selectPair(set, servername).context) };
  }

  /**
   * Reads every file again (SIGHUP, changed files, a certificate ACME just
   * wrote: reason 'acme'); new handshakes get the new set. Resolves false when
   * some pair was refused (it keeps its version in use).
   */
  reload(reason: string): Promise<boolean> {
    this.queue = this.queue.then(() => this.reloadNow(reason));
    return this.queue;
  }

  private async reloadNow(reason: string): Promise<boolean> {
    try {
      const { set, problems } = await loadCertificateSet(this.config, this.log, this.set);
      this.set = set;
      if (this.watch) this.watch.update(await watchedPaths(this.config));
      for (const p of problems) this.log.error({ reason, file: p.file, problem: p.problem }, 'TLS reload refused; the certificate in use stays');
      const msg = problems.length === 0 ? 'TLS certificates reloaded' : 'TLS certificates reloaded, except those refused';
      this.log.info({ reason, certificates: this.list().length, refused: problems.length }, msg);
      return problems.length === 0;
    } catch (err) {
      this.log.error({ reason, problem: (err as Error).message }, 'TLS reload refused; the certificates in use stay');
      return false;
    }
  }

  /** Stops watching files (the server is stopping). */
  close(): void {
    this.watch?.close();
    this.watch = null;
  }
}
