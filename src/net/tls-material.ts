/**
 * TLS key and certificate: the configured PEM files, or else a self-signed
 * pair generated on first start under `<dataDir>/tls/` and reused afterwards,
 * so TLS (and with it plaintext-password protection) works out of the box.
 *
 * Invariants: the generated private key is written with mode 0600 inside a
 * 0700 directory, and never replaced while a matching certificate exists;
 * files appear atomically (written aside, then renamed), the certificate
 * last, so a crash mid-generation never leaves a pair that does not match.
 * Every start logs the certificate's SHA-256 fingerprint so users can pin it.
 */
import type { X509Certificate } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Config, TlsMinVersion } from '../config/schema.js';
import type { Logger } from '../log.js';
import { readBoundedFile, validatePair } from './pem-pair.js';
import { tlsPolicyOptions } from './tls-policy.js';

/** Key and certificate ready for tls.createServer / createSecureContext. */
export interface TlsMaterial {
  key: Buffer;
  /** The certificate, possibly followed by its chain. */
  cert: Buffer;
  /** SHA-256 fingerprint of the leaf certificate, colon-separated hex. */
  fingerprint256: string;
  /** True when this is the generated self-signed pair (clients will need to trust it explicitly). */
  generated: boolean;
  /** The parsed leaf certificate. */
  x509: X509Certificate;
}

const VALID_YEARS = 10;

/** Where the self-signed pair lives. */
export function generatedTlsPaths(dataDir: string): { dir: string; cert: string; key: string } {
  const dir = path.join(dataDir, 'tls');
  return { dir, cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
}

/** Reads a file, or null when it does not exist. */
async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** Writes a file aside, fsyncs it and renames it into place (atomic on POSIX). */
export async function writeFileAtomically(file: string, data: string | Buffer, mode: number): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
}

async function generateSelfSigned(name: string): Promise<{ key: string; cert: string }> {
  const notBeforeDate = new Date();
  const notAfterDate = new Date(notBeforeDate);
  notAfterDate.setFullYear(notAfterDate.getFullYear() + VALID_YEARS);
  const altNames = [
    { type: 2 as const, value: 'localhost' },
    ...(name !== 'localhost' ? [{ type: 2 as const, value: name }] : []),
    { type: 7 as const, ip: '127.0.0.1' },
    { type: 7 as const, ip: '::1' },
  ];
  // Loaded here, not at the top: node-forge costs ~0.1 s of CPU that every CLI call and server start would pay.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

/** Loads the generated pair, creating it when absent. */
async function loadOrGenerate(dataDir: string, name: string, log: Logger): Promise<{ key: Buffer; cert: Buffer }> {
  const paths = generatedTlsPaths(dataDir);
  const [key, cert] = await Promise.all([readIfExists(paths.key), readIfExists(paths.cert)]);
  if (key && cert) return { key, cert };
  if (cert && !key) {
    throw new Error(`${paths.cert} exists but ${paths.key} does not; restore the key or remove both files to generate a new pair`);
  }
  // Only a key without certificate: an interrupted generation (the certificate is renamed last); start over.
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const pems = await generateSelfSigned(name);
  await writeFileAtomically(paths.key, pems.key, 0o600);
  // Only the server reads it, from the private data directory: 0600 like every file there.
  await writeFileAtomically(paths.cert, pems.cert, 0o600);
  log.info({ cert: paths.cert, key: paths.key }, 'generated a self-signed TLS certificate');
  return { key: Buffer.from(pems.key), cert: Buffer.from(pems.cert) };
}

/**
 * The TLS material for the listeners: the configured tls-cert/tls-key, or the
 * self-signed pair under dataDir. Rejects with a message naming the file when
 * anything is unreadable or mismatched. Call again to reload (e.g. on SIGHUP).
 */
export async function loadTlsMaterial(config: Pick<Config, 'dataDir' | 'hostname' | 'tlsCert' | 'tlsKey'>, log: Logger): Promise<TlsMaterial> {
  let key: Buffer;
  let cert: Buffer;
  let generated: boolean;
  let describe: string;
  if (config.tlsCert !== null && config.tlsKey !== null) {
    [cert, key] = await Promise.all([readBoundedFile(config.tlsCert, 'tls-cert file'), readBoundedFile(config.tlsKey, 'tls-key file')]);
    generated = false;
    describe = `tls-cert ${config.tlsCert} / tls-key ${config.tlsKey}`;
  } else {
    ({ key, cert } = await loadOrGenerate(config.dataDir, config.hostname, log));
    generated = true;
    describe = `generated TLS material in ${generatedTlsPaths(config.dataDir).dir}`;
  }
  const x509 = validatePair(key, cert, describe);
  const fingerprint256 = x509.fingerprint256;
  log.info({ subject: x509.subject.replace(/\n/g, ', '), validTo: x509.validTo, fingerprint256, selfSigned: generated }, 'TLS certificate');
  return { key, cert, fingerprint256, generated, x509 };
}

/**
 * Options for tls.createServer (implicit TLS ports) and for server.setSecureContext
 * when reloading. Pass these, not a SecureContext: tls.Server ignores a
 * `secureContext` option and would serve no certificate at all.
 */
export function tlsServerOptions(material: Pick<TlsMaterial, 'key' | 'cert'>, minVersion: TlsMinVersion): SecureContextOptions {
  return { key: material.key, cert: material.cert, ...tlsPolicyOptions(minVersion) };
}

/** A secure context for a handshake: `new TLSSocket(socket, { isServer: true, secureContext })`. */
export function createTlsContext(material: Pick<TlsMaterial, 'key' | 'cert'>, minVersion: TlsMinVersion): SecureContext {
  return createSecureContext(tlsServerOptions(material, minVersion));
}
