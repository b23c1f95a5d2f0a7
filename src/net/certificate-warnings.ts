/**
 * One-line warnings at start about certificates clients will complain about:
 * the default does not name `hostname`, it is self-signed while the machine
 * is reachable from the internet, or a pair expires soon (or has).
 */
import { BlockList } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { Logger } from '../log.js';
import { covers, type ServedCertificate } from './certificate-set.js';

/** A pair expiring within this many days is announced at start. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Addresses that are not reachable from the internet: loopback, private (RFC 1918, RFC 4193), link-local, CGNAT (RFC 6598). */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['100.64.0.0', 10],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['fc00::', 7],
  ['fe80::', 10],
  ['::1', 128],
] as const)
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');

/** The machine's first public address, if it has one. */
export function publicAddress(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string | null {
  for (const infos of Object.values(interfaces)) {
    for (const info of infos ?? []) {
      const family = info.family === 'IPv4' ? 'ipv4' : 'ipv6';
      if (!info.internal && !NOT_PUBLIC.check(info.address, family)) return info.address;
    }
  }
  return null;
}

/** Logs one warning line per problem; `pairs` as Certificates.list() gives them, the default first. */
export function warnAboutCertificates(pairs: readonly ServedCertificate[], hostname: string, log: Logger, now = Date.now(), address = publicAddress()): void {
  const [defaultPair] = pairs;
  if (defaultPair && !covers(defaultPair, hostname.toLowerCase())) {
    log.warn(
      { hostname, names: defaultPair.names, cert: defaultPair.certFile },
      `the default TLS certificate does not cover hostname ${hostname}; clients will warn`,
    );
  }
  if (defaultPair?.origin === 'self-signed' && address !== null) {
    log.warn({ address }, `the TLS certificate is self-signed while this host has the public address ${address}; configure tls-cert/tls-key or ACME`);
  }
  for (const pair of pairs) {
    const left = Date.parse(pair.x509.validTo) - now;
    if (left >= EXPIRY_WARNING_DAYS * DAY_MS) continue;
    const when = left < 0 ? 'has expired' : `expires in ${Math.floor(left / DAY_MS)} days`;
    log.warn({ cert: pair.certFile, names: pair.names, validTo: pair.x509.validTo }, `the TLS certificate ${pair.certFile} ${when} (${pair.x509.validTo})`);
  }
}
