/**
 * Reading one PEM certificate/key pair from files, bounded and checked: the
 * certificate parses, the key parses and belongs to it, and (when asked) it
 * has not expired. Every error names the file, since it ends up in a log line
 * an operator acts on.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';

/** PEM files larger than this are refused: a certificate chain is a few KiB. */
export const MAX_PEM_BYTES = 1 << 20;

/** A checked pair. */
export interface PemPair {
  key: Buffer;
  /** The certificate, possibly followed by its chain. */
  cert: Buffer;
  /** The parsed leaf certificate. */
  x509: X509Certificate;
}

/** Reads a whole file (PEM, or the small JSON beside it) of at most MAX_PEM_BYTES; `what` names it in errors ("tls-cert file"). */
export async function readBoundedFile(file: string, what: string): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const { code } = err as NodeJS.ErrnoException;
    // The code stays on the error, so a caller can tell a missing file (often normal) from an unreadable one.
    throw Object.assign(new Error(`cannot read ${what} ${file}: ${code ?? (err as Error).message}`), { code });
  }
  try {
    const { size } = await handle.stat();
    if (size > MAX_PEM_BYTES) throw new Error(`cannot read ${what} ${file}: larger than ${MAX_PEM_BYTES} bytes`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** Whether the certificate's validity has ended. */
export function hasExpired(x509: X509Certificate, now = Date.now()): boolean {
  return Date.parse(x509.validTo) < now;
}

/** Checks that key and cert parse and belong together; returns the leaf certificate. `describe` names the files. */
export function validatePair(key: Buffer, cert: Buffer, describe: string): X509Certificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`${describe}: not a PEM certificate (${(err as Error).message})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new Error(`${describe}: not a usable PEM private key (${(err as Error).message})`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new Error(`${describe}: the private key does not match the certificate`);
  return x509;
}

/** Reads and checks a pair; with `refuseExpired`, an expired certificate is an error too. */
export async function readPemPair(certFile: string, keyFile: string, what: string, refuseExpired: boolean): Promise<PemPair> {
  const [cert, key] = await Promise.all([readBoundedFile(certFile, `${what} certificate file`), readBoundedFile(keyFile, `${what} key file`)]);
  const x509 = validatePair(key, cert, `${what} ${certFile} / ${keyFile}`);
  if (refuseExpired && hasExpired(x509)) throw new Error(`${what} ${certFile}: the certificate expired on ${x509.validTo}`);
  return { key, cert, x509 };
}
