/**
 * `mailkeep doctor`: checks a mail server the way a client connects to it —
 * name, each port, TLS, plaintext exposure, login, capabilities — and ends
 * with the settings to type into the client. It is a client of any
 * IMAP/POP3 server and knows nothing of mailkeep's internals.
 */
import { type Check, DEFAULT_PORTS, family, type PortSpec, securityName } from './check.js';
import { dnsClient } from './dns-client.js';
import { checkName, type Target } from './name-check.js';
import { connectPort, finishPort } from './port-check.js';
import type { Credentials } from './probe-context.js';
import { tlsOptions } from './tls-checks.js';

/** Everything the command line decides. */
export interface DoctorOptions {
  target: Target;
  /** From --port; null: what the name checks found, else the default set. */
  ports: PortSpec[] | null;
  credentials: Credentials | null;
  /** PEM of --ca-file. */
  ca: string | null;
  dnsServer: string | null;
  timeoutMs: number;
}

/** Settings a client can use, as its account dialog asks for them. */
export interface ClientSettings {
  protocol: 'IMAP' | 'POP3';
  server: string;
  port: number;
  security: string;
  user: string | null;
}

/** A titled group of lines. */
export interface Section {
  title: string;
  checks: Check[];
}

/** The whole result, as rendered and as --json prints it. */
export interface DoctorReport {
  target: string;
  host: string;
  sections: Section[];
  failures: number;
  warnings: number;
  /** Working settings, best first (SSL/TLS before STARTTLS, RFC 8314). */
  settings: ClientSettings[];
}

/** Runs every check; never throws for a server's behaviour (that is a line in the report). */
export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const dns = dnsClient(opts.dnsServer, opts.timeoutMs);
  const name = await checkName(opts.target, dns, opts.ca, opts.timeoutMs);
  const sections: Section[] = [{ title: 'Name', checks: name.checks }];
  const ports = opts.ports ?? (name.discovered.length > 0 ? name.discovered : [...DEFAULT_PORTS]);
  const settings: ClientSettings[] = [];
  const address = name.addresses[0];
  if (address !== undefined) {
    const tls = tlsOptions(name.host, opts.ca);
    const contexts = ports.map((spec) => ({ host: name.host, address, spec, tls, credentials: opts.credentials, timeoutMs: opts.timeoutMs }));
    const connected = await Promise.all(contexts.map(connectPort));
    const reports = await Promise.all(contexts.map((ctx, i) => finishPort(connected[i]!, ctx)));
    for (const r of reports) {
      sections.push({ title: `${family(r.spec.proto)} port ${r.spec.port} (${securityName(r.spec.proto)})`, checks: r.checks });
      if (r.usable)
        settings.push({
          protocol: family(r.spec.proto),
          server: name.host,
          port: r.spec.port,
          security: securityName(r.spec.proto),
          user: opts.credentials?.user ?? null,
        });
    }
  }
  // RFC 8314 §3.3: implicit TLS preferred; IMAP before POP3 (mail stays on the server).
  settings.sort((a, b) => rank(a) - rank(b));
  const all = sections.flatMap((s) => s.checks);
  return {
    target: opts.target.kind === 'host' ? opts.target.host : opts.target.address,
    host: name.host,
    sections,
    failures: all.filter((c) => c.status === 'fail').length,
    warnings: all.filter((c) => c.status === 'warn').length,
    settings,
  };
}

const rank = (s: ClientSettings): number => (s.protocol === 'IMAP' ? 0 : 2) + (s.security === 'SSL/TLS' ? 0 : 1);
