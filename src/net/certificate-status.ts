/**
 * Every certificate the server serves, read from the configuration and the
 * data directory as the server loads them (so it answers while the server
 * runs, and without generating anything): names, issuer, expiry, source,
 * SHA-256 fingerprint, and for ACME certificates the next renewal and the
 * CA's last error from tls/acme/state.json. `mailkeep cert status` prints it;
 * the admin API's /api/v1/server returns it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { type AcmeCertificateState, readAcmeState } from './acme-files.js';
import { acmeDefault, type CertificateProblem, loadCertificateSet, loadSniPairs, pairsInUse, type ServedCertificate } from './certificate-set.js';
import { generatedTlsPaths } from './tls-material.js';

/** One certificate as `cert status` and the admin API report it. */
export interface CertificateReport {
  default: boolean;
  source: ServedCertificate['origin'];
  names: string[];
  issuer: string;
  notAfter: string;
  fingerprint256: string;
  certFile: string;
  keyFile: string;
  /** ACME certificates only; null fields: nothing known yet. */
  acme: { renewAt: string | null; lastSuccess: string | null; lastError: AcmeCertificateState['lastError'] } | null;
}

/** Every certificate in use, what is pending, and what cannot be loaded. */
export interface CertificateStatus {
  certificates: CertificateReport[];
  /** Set when no tls-cert is configured and the server has not generated its self-signed pair yet. */
  selfSignedPending: string | null;
  problems: CertificateProblem[];
}

/** The pairs in use, the default first, as the server would load them, without creating the self-signed pair. */
interface InUse {
  pairs: ServedCertificate[];
  /** Null when no usable default exists (see selfSignedPending and the problems). */
  defaultPair: ServedCertificate | null;
  selfSignedPending: string | null;
}

async function loadInUse(config: Config, problems: CertificateProblem[]): Promise<InUse> {
  const log = createLogger({ log: { level: 'silent', trace: false } });
  const generated = generatedTlsPaths(config.dataDir).cert;
  if (config.tlsCert === null && !existsSync(generated)) {
    const pairs = await loadSniPairs(config, log, [], problems);
    const acme = acmeDefault(config, pairs);
    return acme
      ? { pairs: [acme, ...pairs.filter((p) => p !== acme)], defaultPair: acme, selfSignedPending: null }
      : { pairs, defaultPair: null, selfSignedPending: generated };
  }
  try {
    const { set, problems: found } = await loadCertificateSet(config, log, null);
    problems.push(...found);
    return { pairs: pairsInUse(set), defaultPair: set.defaultPair, selfSignedPending: null };
  } catch (err) {
    // The default pair is unusable: the server would not start; still show the others.
    problems.push({ file: config.tlsCert ?? generated, problem: (err as Error).message });
    return { pairs: await loadSniPairs(config, log, [], problems), defaultPair: null, selfSignedPending: null };
  }
}

/** The certificates the server serves, read from the configuration and data directory without generating anything. */
export async function certificateStatus(config: Config): Promise<CertificateStatus> {
  const problems: CertificateProblem[] = [];
  const { pairs, defaultPair, selfSignedPending } = await loadInUse(config, problems);
  const states = pairs.some((p) => p.origin === 'acme') ? await readAcmeState(config.dataDir) : new Map<string, AcmeCertificateState>();
  const certificates = pairs.map((pair): CertificateReport => {
    // ACME keeps each certificate in certs/<primary name>/, the key of its state entry.
    const state = pair.origin === 'acme' ? states.get(path.basename(path.dirname(pair.certFile))) : undefined;
    return {
      default: pair === defaultPair,
      source: pair.origin,
      names: pair.names,
      issuer: pair.x509.issuer.replace(/\n/g, ', '),
      notAfter: new Date(pair.x509.validTo).toISOString(),
      fingerprint256: pair.x509.fingerprint256,
      certFile: pair.certFile,
      keyFile: pair.keyFile,
      acme: pair.origin === 'acme' ? { renewAt: state?.renewAt ?? null, lastSuccess: state?.lastSuccess ?? null, lastError: state?.lastError ?? null } : null,
    };
  });
  return { certificates, selfSignedPending, problems };
}
