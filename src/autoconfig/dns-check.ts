/**
 * `mailkeep dns --check`: what is published now, compared with what should
 * be. Each expected record is ok (published as it should be), different
 * (something else is published under that name: shown) or missing.
 * Queries go to the system resolver, or to one server (`--dns-server
 * IP[:PORT]`, which Node's Resolver#setServers takes as is).
 */
import { Resolver } from 'node:dns/promises';
import { type DnsRecord, recordData } from './dns-records.js';

export type CheckStatus = 'ok' | 'different' | 'missing';

export interface RecordCheck {
  record: DnsRecord;
  status: CheckStatus;
  /** What is published under the name, in zone-file notation (empty when missing). */
  published: string[];
}

/** Codes meaning "no such name or record", as opposed to a failure to ask. */
const NO_DATA = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME', 'NXDOMAIN']);
/** Published records shown per name; a name with more is not what we asked for anyway. */
const MAX_SHOWN = 10;

const absolute = (name: string): string => (name === '' || name === '.' ? '.' : `${name.replace(/\.$/, '')}.`);
const relativeName = (name: string): string => name.replace(/\.$/, '');

/** The data published under the record's name and type, as recordData() writes it; empty when none. */
async function published(resolver: Resolver, record: DnsRecord): Promise<string[]> {
  const name = relativeName(record.name);
  try {
    switch (record.type) {
      case 'SRV':
        return (await resolver.resolveSrv(name)).map((r) => `${r.priority} ${r.weight} ${r.port} ${absolute(r.name)}`);
      case 'CNAME':
        return (await resolver.resolveCname(name)).map(absolute);
      case 'CAA':
        return (await resolver.resolveCaa(name)).flatMap((r) => (r.issue === undefined ? [] : [`${r.critical} issue "${r.issue}"`]));
    }
  } catch (err) {
    if (NO_DATA.has((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw new Error(`cannot look up ${record.type} ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Checks each record; rejects when a server cannot be asked at all (timeout, refused). */
export async function checkRecords(records: readonly DnsRecord[], server: string | null, timeoutMs: number): Promise<RecordCheck[]> {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (server !== null) resolver.setServers([server]);
  const checks: RecordCheck[] = [];
  for (const record of records) {
    const found = (await published(resolver, record)).slice(0, MAX_SHOWN);
    const expected = recordData(record).toLowerCase();
    const has = found.some((data) => data.toLowerCase() === expected);
    // A CAA set may name further CAs; SRV and CNAME must be exactly the one record.
    const exact = record.type === 'CAA' ? has : has && found.length === 1;
    checks.push({ record, status: found.length === 0 ? 'missing' : exact ? 'ok' : 'different', published: found });
  }
  return checks;
}
