/**
 * `mailkeep dns <domain> [--check] [--dns-server IP[:PORT]]`: the records a
 * domain publishes so mail clients set themselves up (autoconfig/dns-records.ts),
 * as zone-file lines; with --check, what is published now next to each one
 * (ok / different / missing). Exit 1 when --check finds any record not ok.
 */
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { parseDomain } from '../autoconfig/account-setup.js';
import { servesDomain } from '../autoconfig/client-settings.js';
import { checkRecords, type RecordCheck } from '../autoconfig/dns-check.js';
import { recordsToPublish, zoneLines } from '../autoconfig/dns-records.js';
import { CLIENT_SETUP_FLAGS } from './autoconfig.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';

const DEFAULT_TIMEOUT_SECONDS = 5;

/** "IP" or "IP:PORT" / "[IPv6]:PORT", as Resolver#setServers takes it. */
function dnsServer(text: string): string {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  const ip = match ? match[1]! : text;
  const port = match ? Number(match[2]) : 53;
  if (isIP(ip) === 0 || port < 1 || port > 65535) throw new CliError(`--dns-server: expected IP or IP:PORT, got ${JSON.stringify(text)}`, EXIT_USAGE);
  return text;
}

function timeoutMs(text: unknown): number {
  if (text === undefined) return DEFAULT_TIMEOUT_SECONDS * 1000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 300) throw new CliError('--timeout: expected seconds between 0 and 300', EXIT_USAGE);
  return seconds * 1000;
}

function checkLines(checks: readonly RecordCheck[]): string[] {
  const lines = zoneLines(checks.map((c) => c.record));
  return checks.flatMap((c, i) => {
    const line = `${c.status.padEnd(9)} ${lines[i]}`;
    return c.status === 'different' ? [line, ...c.published.map((p) => `          published: ${p}`)] : [line];
  });
}

async function dns(domainArg: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const domain = parseDomain(domainArg);
  if (domain === null) throw new CliError(`not a domain name: ${JSON.stringify(domainArg)}`, EXIT_USAGE);
  if (!servesDomain(config, domain)) throw new CliError(`${domain} is not one of domains (${config.domains.join(', ')})`, EXIT_USAGE);
  const { records, notes } = recordsToPublish(config, domain);
  const header = [
    `; Records for ${domain}: mail clients find ${config.hostname} by themselves (RFC 6186, RFC 8314).`,
    `; Paste into the zone of ${domain}; "0 0 0 ." tells clients a service is not offered.`,
  ];
  const comments = notes.map((n) => `; ${n}`);
  if (opts.check !== true) {
    process.stdout.write(`${[...header, ...zoneLines(records), ...comments].join('\n')}\n`);
    return;
  }
  const server = typeof opts.dnsServer === 'string' ? dnsServer(opts.dnsServer) : null;
  const checks = await checkRecords(records, server, timeoutMs(opts.timeout));
  const bad = checks.filter((c) => c.status !== 'ok').length;
  const verdict =
    bad === 0 ? '; Every record is published.' : `; ${bad} of ${checks.length} records are missing or different: publish the lines above as shown.`;
  process.stdout.write(`${[...header, ...checkLines(checks), ...comments, verdict].join('\n')}\n`);
  if (bad > 0) process.exitCode = EXIT_FAILURE;
}

/** Registers `dns`. */
export function registerDnsCommand(program: Command): void {
  withConfigOptions(
    program
      .command('dns')
      .argument('<domain>')
      .description('print the DNS records that let mail clients set themselves up; --check compares them with what is published')
      .option('--check', 'resolve what is published now and show the differences')
      .option('--dns-server <ip[:port]>', 'ask this DNS server instead of the system resolver')
      .option('--timeout <seconds>', `seconds to wait for each answer (default ${DEFAULT_TIMEOUT_SECONDS})`),
    [...CLIENT_SETUP_FLAGS, 'acme', 'acme-directory'],
  ).action(dns);
}
