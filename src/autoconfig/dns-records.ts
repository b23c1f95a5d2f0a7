/**
 * The DNS records a domain publishes so clients find this server by
 * themselves (`mailkeep dns <domain>`), as zone-file lines:
 * - SRV per RFC 6186 §3 and RFC 8314 §5.1: _imaps, _imap, _pop3s, _pop3 for the
 *   listeners, IMAP preferred over POP3 (lower priority, RFC 6186 §3.4) and
 *   implicit TLS over STARTTLS within each; a disabled listener is published as
 *   "0 0 0 ." so clients know not to try it (RFC 6186 §3.4); _submissions
 *   (RFC 8314 §5.1) or _submission (RFC 6186 §3.1) for the configured
 *   [submission] server only, since its other ports are unknown here.
 * - autoconfig.<domain> and autodiscover.<domain>: CNAME to the hostname,
 *   where Thunderbird and Outlook look for the set-up documents.
 * - CAA (RFC 8659 §4) for the hostname naming the ACME CA, when ACME is on,
 *   so no other CA may issue for it (the names above CNAME to it).
 */
import type { ClientSetupConfig, MailProtocol, Security } from './client-settings.js';
import { outgoingEndpoint } from './client-settings.js';

export type DnsRecord =
  | { type: 'SRV'; name: string; priority: number; weight: number; port: number; target: string }
  | { type: 'CNAME'; name: string; target: string }
  | { type: 'CAA'; name: string; flags: number; tag: 'issue'; value: string };

/** What the records depend on: the client set-up settings, and ACME when the running version has it. */
export type DnsConfig = ClientSetupConfig & { acme?: { enabled: boolean; directory: string } };

export const RECORD_TTL = 3600;

/** CAA issuer domains (RFC 8659 §4.2) of well-known ACME CAs, by their directory's host. */
const CAA_ISSUERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/(^|\.)letsencrypt\.org$/, 'letsencrypt.org'],
  [/(^|\.)zerossl\.com$/, 'sectigo.com'],
  [/(^|\.)pki\.goog$/, 'pki.goog'],
  [/(^|\.)buypass\.com$/, 'buypass.com'],
];

/** The CAA issuer domain for an ACME directory URL, or null when it is not a CA we know. */
export function caaIssuer(directory: string): string | null {
  let host: string;
  try {
    host = new URL(directory).hostname.toLowerCase();
  } catch {
    return null;
  }
  return CAA_ISSUERS.find(([pattern]) => pattern.test(host))?.[1] ?? null;
}

const SERVICE: Record<Exclude<MailProtocol, 'smtp'>, Record<Security, string>> = {
  imap: { tls: '_imaps', starttls: '_imap' },
  pop3: { tls: '_pop3s', starttls: '_pop3' },
};

const absolute = (name: string): string => `${name}.`;

/** The records for `domain`, and a note when ACME is on with a CA whose CAA name is unknown. */
export function recordsToPublish(config: DnsConfig, domain: string): { records: DnsRecord[]; notes: string[] } {
  const host = absolute(config.hostname);
  const listeners: Array<[Exclude<MailProtocol, 'smtp'>, Security, number, number]> = [
    ['imap', 'tls', config.imapsPort, 0],
    ['imap', 'starttls', config.imapPort, 5],
    ['pop3', 'tls', config.pop3sPort, 10],
    ['pop3', 'starttls', config.pop3Port, 15],
  ];
  const records: DnsRecord[] = listeners.map(([protocol, security, port, priority]) => {
    const name = absolute(`${SERVICE[protocol][security]}._tcp.${domain}`);
    return port === 0 ? { type: 'SRV', name, priority: 0, weight: 0, port: 0, target: '.' } : { type: 'SRV', name, priority, weight: 1, port, target: host };
  });
  const outgoing = outgoingEndpoint(config);
  if (outgoing !== null) {
    const service = outgoing.security === 'tls' ? '_submissions' : '_submission';
    records.push({ type: 'SRV', name: absolute(`${service}._tcp.${domain}`), priority: 0, weight: 1, port: outgoing.port, target: absolute(outgoing.host) });
  }
  for (const label of ['autoconfig', 'autodiscover']) records.push({ type: 'CNAME', name: absolute(`${label}.${domain}`), target: host });
  const notes: string[] = [];
  if (config.acme?.enabled) {
    const issuer = caaIssuer(config.acme.directory);
    if (issuer === null) notes.push(`ACME is on with ${config.acme.directory}: add a CAA record for ${config.hostname} with your CA's issuer domain.`);
    else records.push({ type: 'CAA', name: host, flags: 0, tag: 'issue', value: issuer });
  }
  return { records, notes };
}

/** The record's data as a zone file writes it. */
export function recordData(record: DnsRecord): string {
  switch (record.type) {
    case 'SRV':
      return `${record.priority} ${record.weight} ${record.port} ${record.target}`;
    case 'CNAME':
      return record.target;
    case 'CAA':
      return `${record.flags} ${record.tag} "${record.value}"`;
  }
}

/** One zone-file line per record, columns aligned. */
export function zoneLines(records: readonly DnsRecord[]): string[] {
  const width = Math.max(0, ...records.map((r) => r.name.length));
  return records.map((r) => `${r.name.padEnd(width)} ${RECORD_TTL} IN ${r.type.padEnd(5)} ${recordData(r)}`);
}
