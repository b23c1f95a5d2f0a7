/**
 * Mozilla-style autoconfig lookup, as Thunderbird does it:
 * https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=…, then the
 * same over plain HTTP. Only the incoming servers are read (hostname, port,
 * socketType). The body is capped at MAX_BODY bytes and the request at the
 * step timeout; names resolve through the doctor's DNS (--dns-server).
 */
import type { LookupFunction } from 'node:net';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { PortSpec, Proto } from './check.js';
import type { DnsClient } from './dns-client.js';

/** Largest config document read. */
const MAX_BODY = 64 * 1024;
/** incomingServer entries considered. */
const MAX_SERVERS = 20;

/** An incoming server from an autoconfig document. */
export interface AutoconfigServer extends PortSpec {
  hostname: string;
}

/** What was found, and where. */
export interface AutoconfigResult {
  url: string;
  servers: AutoconfigServer[];
}

/** Fetches and parses the autoconfig of `domain`; null when there is none (no name, no answer, not 200). */
export async function fetchAutoconfig(domain: string, address: string, dns: DnsClient, ca: string | null, timeoutMs: number): Promise<AutoconfigResult | null> {
  const host = `autoconfig.${domain}`;
  const addresses = await dns.addresses(host).catch(() => []);
  if (addresses.length === 0) return null;
  const lookup = pinnedLookup(addresses[0]!);
  for (const scheme of ['https', 'http'] as const) {
    const url = `${scheme}://${host}/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(address)}`;
    const body = await get(url, lookup, ca, timeoutMs).catch(() => null);
    if (body === null) continue;
    const servers = parseIncoming(body, address, domain);
    if (servers.length > 0) return { url, servers };
  }
  return null;
}

/** A lookup that answers the already-resolved address, so the request uses the doctor's DNS. */
function pinnedLookup(address: string): LookupFunction {
  const family = address.includes(':') ? 6 : 4;
  return (_host, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

function get(url: string, lookup: LookupFunction, ca: string | null, timeoutMs: number): Promise<string | null> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { lookup, timeout: timeoutMs, ...(ca ? { ca: [...rootCertificates, ca] } : {}) }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve(null);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) req.destroy(new Error('autoconfig document too large'));
        else chunks.push(chunk);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const SOCKET_TYPES: Record<string, Record<string, Proto>> = {
  imap: { SSL: 'imaps', STARTTLS: 'imap', plain: 'imap' },
  pop3: { SSL: 'pop3s', STARTTLS: 'pop3', plain: 'pop3' },
};

/** The incomingServer entries of a clientConfig 1.1 document, placeholders filled in. */
export function parseIncoming(xml: string, address: string, domain: string): AutoconfigServer[] {
  const servers: AutoconfigServer[] = [];
  const blocks = xml.matchAll(/<incomingServer\s+type="(imap|pop3)"\s*>([\s\S]*?)<\/incomingServer>/g);
  for (const [, type, body] of blocks) {
    if (servers.length >= MAX_SERVERS) break;
    const field = (name: string): string | undefined => new RegExp(`<${name}>\\s*([^<]{1,255}?)\\s*</${name}>`).exec(body!)?.[1];
    const hostname = field('hostname')
      ?.replace(/%EMAILDOMAIN%/g, domain)
      .replace(/%EMAILADDRESS%/g, address)
      .toLowerCase();
    const port = Number(field('port'));
    const proto = SOCKET_TYPES[type!]![field('socketType') ?? ''];
    if (hostname && proto && Number.isInteger(port) && port > 0 && port < 65536) servers.push({ hostname, port, proto });
  }
  return servers;
}
