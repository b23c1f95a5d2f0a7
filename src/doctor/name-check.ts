/**
 * The Name section: which host to test, and why. For an email address the
 * domain's autoconfig, SRV records (RFC 6186, RFC 8314 §5.1: _imaps, _imap,
 * _pop3s, _pop3) and MX are read, in that order of preference, falling back to
 * the domain itself; then the chosen host's A/AAAA records.
 */
import { type Check, fail, ok, type PortSpec, type Proto, warn } from './check.js';
import { fetchAutoconfig } from './autoconfig.js';
import type { DnsClient, SrvRecord } from './dns-client.js';

/** What the doctor was asked about. */
export type Target = { kind: 'host'; host: string } | { kind: 'address'; address: string; domain: string };

/** The host to probe, its addresses, and the ports the published settings name (empty: none published). */
export interface NameResult {
  checks: Check[];
  host: string;
  addresses: string[];
  discovered: PortSpec[];
}

/** SRV services in order of preference (RFC 8314 §5.1: implicit TLS first). */
const SRV_SERVICES: readonly { service: string; proto: Proto }[] = [
  { service: '_imaps._tcp', proto: 'imaps' },
  { service: '_imap._tcp', proto: 'imap' },
  { service: '_pop3s._tcp', proto: 'pop3s' },
  { service: '_pop3._tcp', proto: 'pop3' },
];

interface Choice {
  host: string;
  why: string;
  ports: PortSpec[];
}

/** Runs the Name checks; `host` is empty when there is nothing to connect to. */
export async function checkName(target: Target, dns: DnsClient, ca: string | null, timeoutMs: number): Promise<NameResult> {
  const checks: Check[] = [];
  const choice = target.kind === 'host' ? { host: target.host, why: 'the host you gave', ports: [] } : await discover(target, dns, ca, timeoutMs, checks);
  let addresses: string[];
  try {
    addresses = await dns.addresses(choice.host);
  } catch (err) {
    checks.push(
      fail(
        `${choice.host}: DNS lookup failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        'Check your DNS settings or the --dns-server address.',
      ),
    );
    return { checks, host: choice.host, addresses: [], discovered: choice.ports };
  }
  if (addresses.length === 0) {
    checks.push(fail(`${choice.host}: no address (no A or AAAA record)`, `Publish an A (and AAAA) record for ${choice.host}, or check the spelling.`));
    return { checks, host: choice.host, addresses, discovered: choice.ports };
  }
  checks.push(ok(`testing ${choice.host} (${choice.why}) at ${addresses.slice(0, 4).join(', ')}`));
  return { checks, host: choice.host, addresses, discovered: choice.ports };
}

async function discover(target: Extract<Target, { kind: 'address' }>, dns: DnsClient, ca: string | null, timeoutMs: number, checks: Check[]): Promise<Choice> {
  const { domain } = target;
  const [auto, srv, mx] = await Promise.all([
    fetchAutoconfig(domain, target.address, dns, ca, timeoutMs).catch(() => null),
    Promise.all(SRV_SERVICES.map(async (s) => ({ ...s, records: await dns.srv(`${s.service}.${domain}`).catch(() => [] as SrvRecord[]) }))),
    dns.mx(domain).catch(() => []),
  ]);
  const choices: Choice[] = [];

  if (auto) {
    const first = auto.servers[0]!;
    checks.push(ok(`autoconfig: ${auto.url.split('?')[0]} names ${auto.servers.map((s) => `${s.hostname}:${s.port} (${s.proto})`).join(', ')}`));
    choices.push({
      host: first.hostname,
      why: `named by the autoconfig at autoconfig.${domain}`,
      ports: auto.servers.filter((s) => s.hostname === first.hostname),
    });
  } else {
    checks.push(
      warn(
        `autoconfig: none at autoconfig.${domain}`,
        `Clients like Thunderbird then guess the settings; publish autoconfig.${domain} (mailkeep dns lists what to publish).`,
      ),
    );
  }

  // RFC 6186 §3.4 / RFC 2782: a target of "." means the service is not offered.
  const found = srv.flatMap((s) => s.records.filter((r) => r.name !== '' && r.name !== '.').map((r) => ({ ...r, proto: s.proto, service: s.service })));
  if (found.length > 0) {
    found.sort((a, b) => a.priority - b.priority);
    const best = found[0]!;
    const host = best.name.toLowerCase();
    checks.push(ok(`SRV: ${found.map((r) => `${r.service}.${domain} → ${r.name}:${r.port}`).join(', ')}`));
    choices.push({
      host,
      why: `from the SRV record ${best.service}.${domain}`,
      ports: found.filter((r) => r.name.toLowerCase() === host).map((r) => ({ proto: r.proto, port: r.port })),
    });
  } else {
    checks.push(
      warn(
        `SRV: no _imaps/_imap/_pop3s/_pop3 records for ${domain}`,
        'Clients that look them up (RFC 6186) fall back to guessing; publish SRV records for your IMAP and POP3 ports.',
      ),
    );
  }

  if (mx.length > 0) {
    const best = [...mx].sort((a, b) => a.priority - b.priority)[0]!;
    checks.push(ok(`MX: ${mx.map((m) => m.exchange).join(', ')}`));
    choices.push({ host: best.exchange.toLowerCase(), why: `the mail exchanger (MX) of ${domain}, often the IMAP server too`, ports: [] });
  }
  return choices[0] ?? { host: domain, why: `no autoconfig, SRV or MX for ${domain}, so the domain itself`, ports: [] };
}
