/**
 * Signs a configuration profile as CMS SignedData with the content attached
 * (RFC 5652 §5; `openssl cms -sign -nodetach`), with the server's certificate
 * and its chain, so Apple devices show the profile as verified.
 *
 * Why OpenSSL's command rather than a JavaScript CMS library: it signs with
 * every key type a certificate may have (RSA and the ECDSA keys ACME CAs hand
 * out), where node-forge's PKCS#7 is RSA-only, and it is the same code that
 * verifies (`openssl smime -verify`). The key goes to a private temporary
 * directory (0700, the file 0600) that is removed right after.
 *
 * A self-signed certificate proves nothing to a device, so such profiles are
 * served unsigned (the device then says "Unverified", which is the truth).
 */
import { spawn } from 'node:child_process';
import type { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The signing material: the leaf certificate (parsed), the PEM chain it came with and its key. */
export interface SigningPair {
  x509: X509Certificate;
  /** PEM: the leaf certificate, then any intermediates. */
  cert: Buffer;
  key: Buffer;
}

/**
 * Signing runs a process, and the profile URL needs no login: at most this many run at once, and at most
 * SIGNING_QUEUE requests wait for one; beyond that the request is refused (SigningBusyError) rather than queued.
 */
const CONCURRENT_SIGNINGS = 2;
const SIGNING_QUEUE = 16;

/** Too many profiles are being signed right now; the caller answers "try again later". */
export class SigningBusyError extends Error {
  constructor() {
    super('too many profiles are being signed');
    this.name = 'SigningBusyError';
  }
}

let running = 0;
const waiting: Array<() => void> = [];

async function withSigningSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= CONCURRENT_SIGNINGS) {
    if (waiting.length >= SIGNING_QUEUE) throw new SigningBusyError();
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else running++;
  try {
    return await fn();
  } finally {
    // The slot passes straight to the next waiter, or is given back.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** OpenSSL's output for a profile is its size plus a few KB of certificates; more means something is wrong. */
const MAX_SIGNED_BYTES = 1 << 20;
const SIGN_TIMEOUT_MS = 30_000;

/** True when the certificate is issued by someone else (a CA), so a signature with it means something. */
export function canSignWith(x509: X509Certificate): boolean {
  // Self-signed: it names itself as issuer and its own key verifies it (checkIssued also wants keyCertSign, which leaves often lack).
  return !(x509.issuer === x509.subject && x509.verify(x509.publicKey));
}

/** The PEM blocks of a certificate file, in order. */
function pemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

function runOpenssl(args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: SIGN_TIMEOUT_MS });
    const out: Buffer[] = [];
    let size = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_SIGNED_BYTES) child.kill();
      else out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString();
    });
    child.on('error', (err) => reject(new Error(`cannot run openssl: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0 && size <= MAX_SIGNED_BYTES) resolve(Buffer.concat(out));
      else reject(new Error(`openssl cms -sign failed: ${stderr.split('\n', 1)[0] || `exit ${code}`}`));
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** The DER CMS SignedData holding `profile`, signed with `pair`. */
export async function signProfile(profile: string, pair: SigningPair): Promise<Buffer> {
  const [leaf, ...chain] = pemCertificates(pair.cert.toString('latin1'));
  if (leaf === undefined) throw new Error('the certificate file holds no PEM certificate');
  const dir = await mkdtemp(path.join(tmpdir(), 'mailkeep-sign-'));
  try {
    const signer = path.join(dir, 'signer.pem');
    await writeFile(signer, Buffer.concat([Buffer.from(`${leaf}\n`), pair.key]), { mode: 0o600 });
    const args = ['cms', '-sign', '-nodetach', '-binary', '-outform', 'DER', '-signer', signer];
    if (chain.length > 0) {
      const chainFile = path.join(dir, 'chain.pem');
      await writeFile(chainFile, `${chain.join('\n')}\n`, { mode: 0o600 });
      args.push('-certfile', chainFile);
    }
    return await runOpenssl(args, Buffer.from(profile));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The profile as served: signed DER when `pair` is a CA-issued certificate, else the plist itself. */
export async function profileBytes(profile: string, pair: SigningPair | null): Promise<{ body: Buffer; signed: boolean }> {
  if (pair === null || !canSignWith(pair.x509)) return { body: Buffer.from(profile), signed: false };
  return { body: await withSigningSlot(() => signProfile(profile, pair)), signed: true };
}
