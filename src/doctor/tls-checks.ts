/**
 * Judging a TLS session the way a client would: protocol and cipher, chain
 * trusted (system store plus --ca-file), name match, days to expiry (warn
 * under 14) and self-signed (with the SHA-256 fingerprint to compare with the
 * server's log). The handshake itself never rejects (line-conn.ts), so every
 * problem is reported, not just the first.
 */
import { isIP } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type DetailedPeerCertificate, rootCertificates, type TLSSocket } from 'node:tls';
import { type Check, fail, ok, warn } from './check.js';

/** Fewer days than this to expiry is a warning. */
export const EXPIRY_WARN_DAYS = 14;
const DAY_MS = 86_400_000;

/** Handshake options for `host`: SNI unless it is an IP literal; trust = system store plus the extra CA PEM. */
export function tlsOptions(host: string, extraCa: string | null): ConnectionOptions {
  return {
    ...(isIP(host) ? {} : { servername: host }),
    ...(extraCa ? { ca: [...rootCertificates, extraCa] } : {}),
  };
}

/** The checks of one TLS session, and whether a client would accept it. */
export function judgeTls(socket: TLSSocket, host: string, now = Date.now()): { checks: Check[]; accepted: boolean } {
  const checks: Check[] = [];
  const version = socket.getProtocol() ?? 'unknown';
  const cipher = socket.getCipher()?.name ?? 'unknown';
  if (version === 'TLSv1' || version === 'TLSv1.1') {
    checks.push(
      warn(`TLS: ${version}, ${cipher}`, `${version} is obsolete (RFC 8996); enable TLS 1.2 or 1.3 on the server, as current clients refuse older versions.`),
    );
  } else checks.push(ok(`TLS: ${version}, ${cipher}`));

  const cert = socket.getPeerCertificate(true) as DetailedPeerCertificate;
  if (!cert?.raw) {
    checks.push(fail('TLS: the server sent no certificate', 'Configure a certificate on the server.'));
    return { checks, accepted: false };
  }
  const selfSigned = cert.issuerCertificate === cert || sameName(cert.subject, cert.issuer);
  const fingerprint = `SHA-256 ${cert.fingerprint256}`;
  const error = socket.authorizationError ? String(socket.authorizationError) : null;
  let accepted = true;

  // Expiry is judged on its own line; OpenSSL reports it as the chain error too.
  if (error && error !== 'CERT_HAS_EXPIRED' && error !== 'CERT_NOT_YET_VALID') {
    accepted = false;
    checks.push(
      selfSigned
        ? fail(
            `certificate: self-signed, not trusted (${fingerprint})`,
            "Clients will warn or refuse. Install a certificate from a CA (e.g. Let's Encrypt) on the server; until then compare this fingerprint with the one in the server's log before accepting it, or pass the certificate with --ca-file.",
          )
        : fail(
            `certificate: not trusted (${error}; issued by ${commonName(cert.issuer)})`,
            'Clients will refuse it. Install the full chain (certificate plus intermediates) from a CA your clients trust, or pass the issuing CA with --ca-file.',
          ),
    );
  } else {
    checks.push(
      ok(selfSigned ? `certificate: trusted self-signed certificate (${fingerprint})` : `certificate: trusted, issued by ${commonName(cert.issuer)}`),
    );
  }

  const mismatch = checkServerIdentity(host, cert);
  if (mismatch) {
    accepted = false;
    checks.push(
      fail(
        `certificate: issued for ${certNames(cert)}, not ${host}`,
        `Clients connecting to ${host} will refuse it. Get a certificate that includes ${host}, or set up your client with a name the certificate covers.`,
      ),
    );
  } else checks.push(ok(`certificate: valid for ${host}`));

  const notBefore = Date.parse(cert.valid_from);
  const notAfter = Date.parse(cert.valid_to);
  const days = Math.floor((notAfter - now) / DAY_MS);
  const until = new Date(notAfter).toISOString().slice(0, 10);
  if (notAfter <= now) {
    accepted = false;
    checks.push(
      fail(
        `certificate: expired on ${until} (${Math.floor((now - notAfter) / DAY_MS)} days ago)`,
        'Clients will refuse it. Renew the certificate on the server (and make the renewal automatic).',
      ),
    );
  } else if (notBefore > now) {
    accepted = false;
    checks.push(fail(`certificate: not valid before ${cert.valid_from}`, 'Check the clock of the server and of this machine, or reissue the certificate.'));
  } else if (days < EXPIRY_WARN_DAYS) {
    checks.push(warn(`certificate: expires in ${days} days (${until})`, 'Renew the certificate on the server soon.'));
  } else checks.push(ok(`certificate: expires in ${days} days (${until})`));
  return { checks, accepted };
}

function sameName(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined): boolean {
  return a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

function commonName(name: Record<string, unknown> | undefined): string {
  const cn = name?.CN ?? name?.O;
  return typeof cn === 'string' ? cn : Array.isArray(cn) ? String(cn[0]) : 'an unnamed issuer';
}

/** The names a certificate covers, for the mismatch line. */
function certNames(cert: DetailedPeerCertificate): string {
  const alt = (cert.subjectaltname ?? '')
    .split(', ')
    .map((s) => s.replace(/^(DNS|IP Address):/, ''))
    .filter(Boolean);
  const names = alt.length > 0 ? alt : [commonName(cert.subject)];
  return names.slice(0, 5).join(', ') + (names.length > 5 ? ', …' : '');
}
