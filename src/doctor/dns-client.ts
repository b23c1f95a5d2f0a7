/**
 * The doctor's DNS: the system resolver, or every query sent to the one
 * server given with --dns-server (Node's Resolver#setServers takes "ip:port"
 * and "[ip6]:port"). Every query is bounded by the step timeout.
 */
import { lookup } from 'node:dns/promises';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

/** An SRV answer (RFC 2782). */
export interface SrvRecord {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

/** What the name checks ask of DNS; answers are empty arrays for "no such record". */
export interface DnsClient {
  srv(name: string): Promise<SrvRecord[]>;
  mx(domain: string): Promise<{ exchange: string; priority: number }[]>;
  /** IPv4 addresses first, then IPv6. */
  addresses(host: string): Promise<string[]>;
}

/** Codes that mean "the name or record does not exist", not a failure to ask. */
const NO_DATA = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME', 'NXDOMAIN']);

async function orEmpty<T>(query: Promise<T[]>): Promise<T[]> {
  try {
    return await query;
  } catch (err) {
    if (NO_DATA.has((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw err;
  }
}

/** A client for `server` ("ip" or "ip:port"), or for the system's resolvers when null. */
export function dnsClient(server: string | null, timeoutMs: number): DnsClient {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (server) resolver.setServers([server]);
  return {
    srv: (name) => orEmpty(resolver.resolveSrv(name)),
    mx: (domain) => orEmpty(resolver.resolveMx(domain)),
    async addresses(host) {
      if (isIP(host)) return [host];
      if (!server) {
        // The system resolver, /etc/hosts included, as a client would see it.
        const all = await orEmpty(lookup(host, { all: true }));
        return sortV4First(all.map((a) => a.address));
      }
      const [v4, v6] = await Promise.all([orEmpty(resolver.resolve4(host)), orEmpty(resolver.resolve6(host))]);
      return [...v4, ...v6];
    },
  };
}

function sortV4First(addresses: string[]): string[] {
  return [...new Set(addresses)].sort((a, b) => isIP(a) - isIP(b));
}
