/**
 * Loading every certificate/key pair an endpoint may serve, as one set:
 * the base pair (tls-cert/tls-key, else the generated self-signed one), the
 * `[[tls.certificates]]` pairs and ACME's pairs in the data directory. The
 * default (served without SNI, or for a name no pair covers) is the base pair,
 * or an ACME pair covering `hostname` when no tls-cert is configured.
 *
 * Invariants: a pair that fails to load (unreadable, mismatched, expired) is
 * reported naming its file and, on a reload, the pair previously loaded from
 * the same files stays; an unchanged pair keeps its context.
 */
import type { SecureContext } from 'node:tls';
import type { X509Certificate } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { acmeCertificateNames, acmeCertificatePaths } from './acme-files.js';
import { hasExpired, readPemPair, type PemPair } from './pem-pair.js';
import { createTlsContext, generatedTlsPaths, loadTlsMaterial } from './tls-material.js';

/** Where a pair comes from, as `mailkeep cert status` shows it. */
export type CertificateOrigin = 'file' | 'self-signed' | 'acme';

/** One certificate/key pair ready to serve. */
export interface ServedCertificate extends PemPair {
  origin: CertificateOrigin;
  certFile: string;
  keyFile: string;
  /** DNS names of the subjectAltName (lower case; wildcards as written, "*.example.org"). */
  names: string[];
  context: SecureContext;
}

/** The pairs in use. */
export interface CertificateSet {
  /** Served without SNI and for names no pair covers. */
  defaultPair: ServedCertificate;
  /** The tls-cert/tls-key or self-signed pair (the default unless an ACME pair covers hostname). */
  base: ServedCertificate;
  /** [[tls.certificates]] pairs, then ACME's, in that order of preference. */
  pairs: ServedCertificate[];
}

/** A pair that could not be loaded. */
export interface CertificateProblem {
  file: string;
  problem: string;
}

export type CertificateConfig = Pick<Config, 'dataDir' | 'hostname' | 'tlsCert' | 'tlsKey' | 'tls'>;

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

/** Whether a pair covers a name (lower case). */
export function covers(pair: Pick<ServedCertificate, 'names'>, name: string): boolean {
  return pair.names.some((pattern) => nameMatches(pattern, name));
}

/** The files of one pair to load. */
interface PairSpec {
  origin: 'file' | 'acme';
  certFile: string;
  keyFile: string;
  /** Names the pair in messages: "tls.certificates[1]", "ACME certificate mail.example.org". */
  what: string;
}

/** The [[tls.certificates]] and ACME pairs, in order of preference. */
async function pairSpecs(config: CertificateConfig): Promise<PairSpec[]> {
  const configured = config.tls.certificates.map((p, i): PairSpec => ({ origin: 'file', certFile: p.cert, keyFile: p.key, what: `tls.certificates[${i}]` }));
  const acme = (await acmeCertificateNames(config.dataDir)).map((name): PairSpec => {
    const paths = acmeCertificatePaths(config.dataDir, name);
    return { origin: 'acme', certFile: paths.cert, keyFile: paths.key, what: `ACME certificate ${name}` };
  });
  return [...configured, ...acme];
}

function toServed(
  pair: PemPair,
  spec: Omit<PairSpec, 'what'> | { origin: 'self-signed'; certFile: string; keyFile: string },
  config: CertificateConfig,
  previous: ServedCertificate | undefined,
): ServedCertificate {
  // The same bytes as before: keep the context (and say nothing), so a reload that changed one file rebuilds one pair.
  if (previous?.cert.equals(pair.cert) && previous.key.equals(pair.key)) return previous;
  return { ...pair, ...spec, names: certificateNames(pair.x509), context: createTlsContext(pair, config.tls.minVersion) };
}

/** Loads the base pair; on failure the previous one stays when there is one, else it throws (nothing to serve). */
async function loadBase(
  config: CertificateConfig,
  log: Logger,
  previous: ServedCertificate | undefined,
  problems: CertificateProblem[],
): Promise<ServedCertificate> {
  const generated = generatedTlsPaths(config.dataDir);
  const [certFile, keyFile] = config.tlsCert !== null && config.tlsKey !== null ? [config.tlsCert, config.tlsKey] : [generated.cert, generated.key];
  try {
    const material = await loadTlsMaterial(config, log);
    // A new tls-cert that has already expired is refused like a mismatched one (at start it is served, with a warning).
    if (previous && !material.cert.equals(previous.cert) && hasExpired(material.x509)) {
      throw new Error(`tls-cert ${certFile}: the certificate expired on ${material.x509.validTo}`);
    }
    return toServed(material, { origin: material.generated ? 'self-signed' : 'file', certFile, keyFile }, config, previous);
  } catch (err) {
    if (!previous) throw err;
    problems.push({ file: certFile, problem: (err as Error).message });
    return previous;
  }
}

/**
 * Loads the [[tls.certificates]] and ACME pairs. Pairs that fail are reported
 * and keep their `previous` version if any; pairs whose files vanished (an
 * ACME directory removed) go.
 */
export async function loadSniPairs(
  config: CertificateConfig,
  log: Logger,
  previous: readonly ServedCertificate[],
  problems: CertificateProblem[],
): Promise<ServedCertificate[]> {
  const pairs: ServedCertificate[] = [];
  for (const spec of await pairSpecs(config)) {
    const before = previous.find((p) => p.certFile === spec.certFile && p.keyFile === spec.keyFile);
    try {
      const pair = toServed(await readPemPair(spec.certFile, spec.keyFile, spec.what, true), spec, config, before);
      if (pair !== before)
        log.info(
          { cert: spec.certFile, names: pair.names, validTo: pair.x509.validTo, fingerprint256: pair.x509.fingerprint256, source: spec.origin },
          'TLS certificate',
        );
      pairs.push(pair);
    } catch (err) {
      problems.push({ file: spec.certFile, problem: (err as Error).message });
      if (before) pairs.push(before);
    }
  }
  return pairs;
}

/** An ACME pair covering hostname, which serves clients without SNI unless tls-cert is configured. */
export function acmeDefault(config: CertificateConfig, pairs: readonly ServedCertificate[]): ServedCertificate | undefined {
  const hostname = config.hostname.toLowerCase();
  // Let's Encrypt's certificate for hostname beats the self-signed one for clients that send no name.
  return config.tlsCert === null ? pairs.find((p) => p.origin === 'acme' && covers(p, hostname)) : undefined;
}

/** The set of a base pair and the SNI pairs. */
function assembleSet(config: CertificateConfig, base: ServedCertificate, pairs: ServedCertificate[]): CertificateSet {
  return { defaultPair: acmeDefault(config, pairs) ?? base, base, pairs };
}

/** Loads every pair (a reload when `previous` is given: what fails keeps its previous version). */
export async function loadCertificateSet(
  config: CertificateConfig,
  log: Logger,
  previous: CertificateSet | null,
): Promise<{ set: CertificateSet; problems: CertificateProblem[] }> {
  const problems: CertificateProblem[] = [];
  const base = await loadBase(config, log, previous?.base, problems);
  const pairs = await loadSniPairs(config, log, previous?.pairs ?? [], problems);
  return { set: assembleSet(config, base, pairs), problems };
}

/** Every pair in use, the default first (the self-signed base is not in use once an ACME pair is the default). */
export function pairsInUse(set: CertificateSet): ServedCertificate[] {
  return [set.defaultPair, ...set.pairs.filter((p) => p !== set.defaultPair)];
}

/** The pair for a server name: an exact name first, then a wildcard (RFC 6125 §6.4.3), else the default. */
export function selectPair(set: CertificateSet, servername: string | undefined): ServedCertificate {
  if (!servername) return set.defaultPair;
  const name = servername.toLowerCase();
  const candidates = pairsInUse(set);
  return candidates.find((p) => p.names.includes(name)) ?? candidates.find((p) => covers(p, name)) ?? set.defaultPair;
}
