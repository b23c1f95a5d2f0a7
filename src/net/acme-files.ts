/**
 * Where ACME's results live in the data directory, the contract between the
 * ACME client (which writes them) and the certificate source and
 * `mailkeep cert status` (which read them):
 *   tls/acme/certs/<primary name>/cert.pem, key.pem — written atomically, 0600;
 *   tls/acme/state.json — renewal times and the last CA error per certificate.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readBoundedFile } from './pem-pair.js';

/** Certificate directories read at most: far above any real number of names. */
export const MAX_ACME_CERTIFICATES = 1000;

/** The directory of ACME's account key, certificates and state. */
export function acmeDir(dataDir: string): string {
  return path.join(dataDir, 'tls', 'acme');
}

/** The cert.pem/key.pem of one ACME certificate, by its primary name. */
export function acmeCertificatePaths(dataDir: string, name: string): { dir: string; cert: string; key: string } {
  const dir = path.join(acmeDir(dataDir), 'certs', name);
  return { dir, cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
}

/** Primary names of the ACME certificates present (directories under tls/acme/certs), sorted; none when absent. */
export async function acmeCertificateNames(dataDir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(path.join(acmeDir(dataDir), 'certs'), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort()
    .slice(0, MAX_ACME_CERTIFICATES);
}

/** The last error the CA returned for a certificate (its RFC 8555 §6.7 problem document, abridged). */
export interface AcmeError {
  time: string;
  type: string;
  detail: string;
  status: number | null;
}

/** What ACME remembers of one certificate. */
export interface AcmeCertificateState {
  names: string[];
  notAfter: string | null;
  renewAt: string | null;
  lastSuccess: string | null;
  lastError: AcmeError | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function parseError(v: unknown): AcmeError | null {
  if (typeof v !== 'object' || v === null) return null;
  const e = v as Record<string, unknown>;
  return { time: str(e.time) ?? '', type: str(e.type) ?? '', detail: str(e.detail) ?? '', status: typeof e.status === 'number' ? e.status : null };
}

/** tls/acme/state.json by primary name; empty when the file is absent (nothing ordered yet). Unknown keys are ignored. */
export async function readAcmeState(dataDir: string): Promise<Map<string, AcmeCertificateState>> {
  const file = path.join(acmeDir(dataDir), 'state.json');
  let text: string;
  try {
    text = (await readBoundedFile(file, 'ACME state file')).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message})`);
  }
  const certificates = (parsed as { certificates?: unknown } | null)?.certificates;
  const states = new Map<string, AcmeCertificateState>();
  if (typeof certificates !== 'object' || certificates === null) return states;
  for (const [name, value] of Object.entries(certificates as Record<string, unknown>).slice(0, MAX_ACME_CERTIFICATES)) {
    const c = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    states.set(name, {
      names: Array.isArray(c.names) ? c.names.filter((n): n is string => typeof n === 'string') : [],
      notAfter: str(c.notAfter),
      renewAt: str(c.renewAt),
      lastSuccess: str(c.lastSuccess),
      lastError: parseError(c.lastError),
    });
  }
  return states;
}
