/**
 * `mailkeep cert status [--json]`: every certificate the server serves, read
 * from the configuration and the data directory as the server loads them (so
 * it answers while the server runs, and without generating anything): names,
 * issuer, expiry, source, SHA-256 fingerprint, and for ACME certificates the
 * next renewal and the CA's last error from tls/acme/state.json.
 * Exit 1 when a configured certificate cannot be loaded.
 */
import type { Command } from 'commander';
import type { AcmeCertificateState } from '../net/acme-files.js';
import { type CertificateStatus, certificateStatus } from '../net/certificate-status.js';
import { CliError } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';

function formatAcmeError(error: NonNullable<AcmeCertificateState['lastError']>): string {
  const status = error.status === null ? '' : ` (HTTP ${error.status})`;
  return `${error.time} ${error.type}${status}: ${error.detail}`;
}

function formatText(report: CertificateStatus): string {
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
  const report = await certificateStatus(configFromOptions(opts));
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
