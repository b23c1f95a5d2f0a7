/**
 * Certificates for TLS tests: a test CA and leaf certificates it signs
 * (valid, for another name, expired), plus a self-signed one, written as PEM
 * files into a directory.
 */
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'selfsigned';

/** A key and certificate pair on disk. */
export interface CertFiles {
  cert: string;
  key: string;
  /** SHA-256 fingerprint, colon-separated upper-case hex (as Node prints it). */
  fingerprint256: string;
}

/** The test CA and the certificates the doctor tests serve. */
export interface TestCerts {
  ca: CertFiles;
  /** Signed by the CA for localhost and 127.0.0.1, valid for a year. */
  valid: CertFiles;
  /** Signed by the CA for other.example only. */
  otherName: CertFiles;
  /** Signed by the CA for localhost, expired 10 days ago. */
  expired: CertFiles;
  /** Self-signed for localhost. */
  selfSigned: CertFiles;
}

const DAY = 86_400_000;

function save(dir: string, name: string, pems: { cert: string; private: string }): CertFiles {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, pems.cert);
  writeFileSync(key, pems.private, { mode: 0o600 });
  return { cert, key, fingerprint256: new X509Certificate(pems.cert).fingerprint256 };
}

const serverExtensions = (names: string[]) => [
  { name: 'basicConstraints' as const, cA: false },
  { name: 'keyUsage' as const, digitalSignature: true, keyEncipherment: true },
  { name: 'extKeyUsage' as const, serverAuth: true },
  { name: 'subjectAltName' as const, altNames: names.map((n) => (/^[0-9.]+$/.test(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })) },
];

/** Generates every test certificate into `dir` (EC keys: fast). */
export async function makeTestCerts(dir: string): Promise<TestCerts> {
  const now = Date.now();
  const base = { keyType: 'ec' as const, algorithm: 'sha256' };
  const caPems = await generate([{ name: 'commonName', value: 'mailkeep test CA' }], {
    ...base,
    notBeforeDate: new Date(now - 30 * DAY),
    notAfterDate: new Date(now + 365 * DAY),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const ca = { key: caPems.private, cert: caPems.cert };
  const leaf = (cn: string, names: string[], from: number, to: number) =>
    generate([{ name: 'commonName', value: cn }], {
      ...base,
      ca,
      notBeforeDate: new Date(from),
      notAfterDate: new Date(to),
      extensions: serverExtensions(names),
    });
  return {
    ca: save(dir, 'ca', caPems),
    valid: save(dir, 'valid', await leaf('localhost', ['localhost', '127.0.0.1'], now - DAY, now + 200 * DAY)),
    otherName: save(dir, 'other-name', await leaf('other.example', ['other.example'], now - DAY, now + 200 * DAY)),
    expired: save(dir, 'expired', await leaf('localhost', ['localhost', '127.0.0.1'], now - 20 * DAY, now - 10 * DAY)),
    selfSigned: save(
      dir,
      'self-signed',
      await generate([{ name: 'commonName', value: 'localhost' }], {
        ...base,
        notBeforeDate: new Date(now - DAY),
        notAfterDate: new Date(now + 200 * DAY),
        extensions: serverExtensions(['localhost', '127.0.0.1']),
      }),
    ),
  };
}
