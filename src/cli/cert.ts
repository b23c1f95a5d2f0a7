/**
 * `mailkeep cert status [--json]`: every certificate the server serves, read
 * from the configuration and the data directory as the server loads them (so
 * it answers while the server runs, and without generating anything): names,
 * issuer, expiry, source, SHA-256 fingerprint, and for ACME certificates the
 * next renewal and the CA's last error from tls/acme/state.json.
 * Exit 1 when a configured certificate cannot be loaded.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { type AcmeCertificateState, readAcmeState } from '../net/acme-files.js';
import { acmeDefault, type CertificateProblem, loadCertificateSet, loadSniPairs, pairsInUse, type ServedCertificate } from '../net/certificate-set.js';
import { generatedTlsPaths } from '../net/tls-material.js';
import { CliError } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';

/** One certificate as `cert status` reports it. */
interface CertificateReport {
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

interface StatusReport {
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

async function statusReport(config: Config): Promise<StatusReport> {
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

function formatAcmeError(error: NonNullable<AcmeCertificateState['lastError']>): string {
  const status = error.status === null ? '' : ` (HTTP ${error.status})`;
  return `${error.time} ${error.type}${status}: ${error.detail}`;
}

function formatText(report: StatusReport): string {
  const lines: string[] = [];
  if (report.selfSignedPending) lines.push(`default: self-signed, not generated yet (the server creates ${report.selfSignedPending} on first start)`, '');
  for (const c of report.certificates) {
    lines.push(`${c.names[0] ?? '(no DNS name)'}${c.default ? ' (default)' : ''}`);
    lines.push(`  source:       ${c.source}`);
    lines.push(`  names:        ${c.names.join(', ')}`);
    lines.push(`  issuer:       ${c.issuer}`);
    lines.push(`  not after:    ${c.notAfter}`);
    lines.push(`  SHA-256:      ${c.fingerprint256}`);
    lines.push(`  files:        ${c.certFile}, ${c.keyFile}`);
    if (c.acme) {
      lines.push(`  next renewal: ${c.acme.renewAt ?? 'none yet'}`);
      lines.push(`  last success: ${c.acme.lastSuccess ?? 'none yet'}`);
      lines.push(`  last ACME error: ${c.acme.lastError ? formatAcmeError(c.acme.lastError) : 'none yet'}`);
    }
    lines.push('');
  }
  for (const p of report.problems) lines.push(`refused: ${p.problem}`);
  return `${lines.join('\n').trimEnd()}\n`;
}

async function status(opts: Record<string, unknown>): Promise<void> {
  const report = await statusReport(configFromOptions(opts));
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatText(report));
  if (report.problems.length > 0) throw new CliError(`${report.problems.length} certificate(s) cannot be loaded`);
}

/** Registers `cert` and its subcommands. */
export function registerCertCommands(program: Command): void {
  const cert = program.command('cert').description('TLS certificates');
  withConfigOptions(cert.command('status').description('show every certificate in use, its expiry and ACME renewal'), [
    'data-dir',
    'hostname',
    'tls-cert',
    'tls-key',
  ])
    .option('--json', 'print JSON')
    .action(status);
}
