/**
 * The certificates every TLS endpoint serves (IMAP 993 and STARTTLS, POP3 995
 * and STLS, later HTTPS): one default pair and further pairs chosen by the
 * client's server name (SNI, RFC 6066 §3).
 *
 * Invariants: a handshake reads the current set when it starts, so a reload
 * applies to the next handshake and never touches an established session; a
 * reload that fails (unreadable file, key mismatch) keeps the pairs in use and
 * says why in the log.
 */
import type { X509Certificate } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { createTlsContext, loadTlsMaterial, type TlsMaterial } from './tls-material.js';

/** What a server-side handshake needs: a default context and the SNI choice. */
export interface CertificateSource {
  /** Options for `new TLSSocket(raw, { isServer: true, ...options })`, taken at each handshake. */
  handshakeOptions(): { secureContext: SecureContext; SNICallback: SniCallback };
}

type SniCallback = (servername: string, done: (err: Error | null, ctx?: SecureContext) => void) => void;

/** One certificate/key pair in use. */
export interface ServedCertificate {
  material: TlsMaterial;
  /** DNS names of the subjectAltName (lower case; wildcards as written, "*.example.org"). */
  names: string[];
  context: SecureContext;
}

/** DNS names a certificate covers: its subjectAltName DNS entries, else its CN (RFC 6125 §6.4.4). */
export function certificateNames(x509: X509Certificate): string[] {
  const san = x509.subjectAltName;
  if (san) {
    return san
      .split(/,\s*/)
      .filter((entry) => entry.startsWith('DNS:'))
      .map((entry) => entry.slice(4).toLowerCase());
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject);
  return cn?.[1] ? [cn[1].toLowerCase()] : [];
}

/** RFC 6125 §6.4.3: a wildcard stands for exactly one whole left-most label. */
export function nameMatches(pattern: string, name: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === name;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
}

function served(material: TlsMaterial): ServedCertificate {
  return { material, names: certificateNames(material.x509), context: createTlsContext(material) };
}

/** The default pair (tls-cert/tls-key, or the generated self-signed one), reloadable. */
export class Certificates implements CertificateSource {
  private constructor(
    private readonly config: Pick<Config, 'dataDir' | 'hostname' | 'tlsCert' | 'tlsKey'>,
    private readonly log: Logger,
    private defaultPair: ServedCertificate,
  ) {}

  /** Loads the default pair; rejects (naming the file) when it is unusable, since then nothing could be served. */
  static async load(config: Pick<Config, 'dataDir' | 'hostname' | 'tlsCert' | 'tlsKey'>, log: Logger): Promise<Certificates> {
    return new Certificates(config, log, served(await loadTlsMaterial(config, log)));
  }

  /** The pair served when the client names no server, or a name no other pair covers. */
  get default(): ServedCertificate {
    return this.defaultPair;
  }

  /** Every pair in use, the default first. */
  list(): ServedCertificate[] {
    return [this.defaultPair];
  }

  /** The pair for a server name: one whose names cover it, else the default. */
  select(servername: string | undefined): ServedCertificate {
    if (servername) {
      const name = servername.toLowerCase();
      const found = this.list().find((pair) => pair.names.some((pattern) => nameMatches(pattern, name)));
      if (found) return found;
    }
    return this.defaultPair;
  }

  handshakeOptions(): { secureContext: SecureContext; SNICallback: SniCallback } {
    return { secureContext: this.defaultPair.context, SNICallback: (servername, done) => done(null, this.select(servername).context) };
  }

  /**
   * Reads the files again (SIGHUP, a renewed certificate); new handshakes get
   * the new pairs. Resolves false, the old pairs kept, when they are unusable.
   */
  async reload(reason: string): Promise<boolean> {
    try {
      this.defaultPair = served(await loadTlsMaterial(this.config, this.log));
      this.log.info({ reason }, 'TLS certificates reloaded');
      return true;
    } catch (err) {
      this.log.error({ reason, problem: (err as Error).message }, 'TLS reload refused; the certificates in use stay');
      return false;
    }
  }
}
