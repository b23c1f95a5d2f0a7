/**
 * `mailkeep doctor <host | email address>`: the troubleshooting chapter of an
 * IMAP guide as a command (src/doctor/). Exit 0 when nothing failed
 * (warnings included), 1 when a check failed, 2 for a usage error.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import type { PortSpec, Proto } from '../doctor/check.js';
import { type DoctorOptions, runDoctor } from '../doctor/doctor.js';
import type { Target } from '../doctor/name-check.js';
import { renderText } from '../doctor/render.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './cli-error.js';
import { readFirstLine } from './password-input.js';

const PROTOS: readonly Proto[] = ['imap', 'imaps', 'pop3', 'pop3s'];
/** Most --port flags; each may cost a connection and a timeout. */
const MAX_PORTS = 16;
const MAX_TIMEOUT_SECONDS = 300;
/** A DNS name: labels of letters, digits and hyphens (RFC 1123 §2.1), optionally with a trailing dot. */
const HOST_NAME = /^(?=.{1,253}\.?$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$/i;

function usage(message: string): CliError {
  return new CliError(message, EXIT_USAGE);
}

/** `PROTO:N`, collected over repeated --port flags. */
function collectPort(value: string, previous: PortSpec[] = []): PortSpec[] {
  const m = /^([a-z0-9]+):([0-9]{1,5})$/i.exec(value);
  const proto = (m?.[1] ?? '').toLowerCase() as Proto;
  const port = Number(m?.[2]);
  if (!m || !PROTOS.includes(proto) || port < 1 || port > 65535)
    throw usage(`--port takes PROTO:N with PROTO one of ${PROTOS.join(', ')} and N a port, not ${JSON.stringify(value)}`);
  if (previous.length >= MAX_PORTS) throw usage(`at most ${MAX_PORTS} --port flags`);
  return [...previous, { proto, port }];
}

function parseTarget(text: string): Target {
  const at = text.lastIndexOf('@');
  if (at >= 0) {
    const domain = text
      .slice(at + 1)
      .toLowerCase()
      .replace(/\.$/, '');
    if (at === 0 || !HOST_NAME.test(domain) || /[\s<>"]/.test(text)) throw usage(`not an email address: ${JSON.stringify(text)}`);
    return { kind: 'address', address: text, domain };
  }
  const host = text.replace(/^\[(.*)\]$/, '$1');
  if (!isIP(host) && !HOST_NAME.test(host)) throw usage(`not a host name, IP address or email address: ${JSON.stringify(text)}`);
  return { kind: 'host', host: host.toLowerCase().replace(/\.$/, '') };
}

/** "ip" or "ip:port" / "[ip6]:port", as Resolver#setServers takes it. */
function parseDnsServer(text: string): string {
  const m = /^\[([0-9a-f:.]+)\]:([0-9]{1,5})$/i.exec(text) ?? /^([0-9.]+):([0-9]{1,5})$/.exec(text);
  const ip = m ? m[1]! : text;
  const port = m ? Number(m[2]) : 53;
  if (!isIP(ip) || port < 1 || port > 65535) throw usage(`--dns-server takes IP or IP:PORT ([IPv6]:PORT), not ${JSON.stringify(text)}`);
  return text;
}

function parseTimeout(text: string): number {
  const seconds = Number(text);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(text) || seconds <= 0 || seconds > MAX_TIMEOUT_SECONDS)
    throw usage(`--timeout takes seconds between 0 and ${MAX_TIMEOUT_SECONDS}, not ${JSON.stringify(text)}`);
  return Math.round(seconds * 1000);
}

async function readCa(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (err) {
    throw usage(`cannot read --ca-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw usage(`--ca-file ${file} holds no PEM certificate`);
  return pem;
}

async function options(targetText: string, opts: Record<string, unknown>): Promise<DoctorOptions> {
  const target = parseTarget(targetText);
  const user = typeof opts.user === 'string' ? opts.user : null;
  if (user !== null && !opts.passwordStdin) throw usage('--user needs --password-stdin (the password is read from standard input)');
  if (user === null && opts.passwordStdin) throw usage('--password-stdin needs --user');
  const password = user !== null ? await readFirstLine(process.stdin) : null;
  if (password === '') throw usage('the password on standard input is empty');
  return {
    target,
    ports: (opts.port as PortSpec[] | undefined) ?? null,
    credentials: user !== null && password !== null ? { user, password } : null,
    ca: typeof opts.caFile === 'string' ? await readCa(opts.caFile) : null,
    dnsServer: typeof opts.dnsServer === 'string' ? parseDnsServer(opts.dnsServer) : null,
    timeoutMs: typeof opts.timeout === 'string' ? parseTimeout(opts.timeout) : 10_000,
  };
}

/** Registers `doctor`. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .argument('<target>', 'host name, IP address, or email address (then its domain is looked up: autoconfig, SRV, MX)')
    .description("check a mail server the way a client connects, and say why a client can't")
    .option('--port <PROTO:N>', 'a port to check, PROTO one of imap, imaps, pop3, pop3s (repeatable; replaces 993, 143, 995, 110)', collectPort)
    .option('--user <name>', 'also try to log in as this user (needs --password-stdin)')
    .option('--password-stdin', 'read the password from the first line of standard input (never printed)')
    .option('--ca-file <file>', 'also trust the CA certificates in this PEM file')
    .option('--dns-server <IP[:PORT]>', 'send every DNS query to this server')
    .option('--json', 'print the report as JSON')
    .option('--timeout <seconds>', 'time limit of each step (connect, handshake, each answer)', '10')
    .action(async (targetText: string, opts: Record<string, unknown>) => {
      const report = await runDoctor(await options(targetText, opts));
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : renderText(report));
      if (report.failures > 0) process.exitCode = EXIT_FAILURE;
    });
}
