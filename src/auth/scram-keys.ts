/**
 * SCRAM keys (RFC 5802 §3): SaltedPassword = PBKDF2(password, salt, i),
 * ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey),
 * ServerKey = HMAC(SaltedPassword, "Server Key"). Only StoredKey and ServerKey
 * are kept. PBKDF2 runs on libuv's thread pool (crypto.pbkdf2), never on the
 * event loop.
 *
 * The password is prepared with SASLprep as for the stored hash
 * (auth/password.ts, RFC 4013; RFC 5802 §2.2 Normalize): the same password
 * logs in by PLAIN and by SCRAM, whose client prepares it the same way.
 */
import { createHash, createHmac, pbkdf2, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Account, MailStore, ScramCredential, ScramHash } from '../store/types.js';
import { type PasswordHashing, preparedOrThrow } from './password.js';

/** Node's digest name and output length of each SCRAM hash function. */
export const SCRAM_DIGESTS: Record<ScramHash, { node: 'sha1' | 'sha256'; bytes: number }> = {
  'SHA-1': { node: 'sha1', bytes: 20 },
  'SHA-256': { node: 'sha256', bytes: 32 },
};

/** Every hash function keys are derived for, so any SCRAM mechanism works for the account. */
export const SCRAM_HASHES: readonly ScramHash[] = ['SHA-256', 'SHA-1'];

const SALT_BYTES = 16;

/** HMAC(key, data) with the hash function's digest. */
export function scramHmac(hash: ScramHash, key: Buffer, data: string | Buffer): Buffer {
  return createHmac(SCRAM_DIGESTS[hash].node, key).update(data).digest();
}

/** H(data). */
export function scramDigest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(SCRAM_DIGESTS[hash].node).update(data).digest();
}

/** SaltedPassword := Hi(Normalize(password), salt, i), RFC 5802 §3 (Hi is PBKDF2 with HMAC). */
export function saltedPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const { node, bytes } = SCRAM_DIGESTS[hash];
  return new Promise((resolve, reject) => {
    pbkdf2(preparedOrThrow(password), salt, iterations, bytes, node, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** StoredKey and ServerKey from a SaltedPassword (RFC 5802 §3). */
export function keysFromSalted(hash: ScramHash, salted: Buffer): { storedKey: Buffer; serverKey: Buffer } {
  return { storedKey: scramDigest(hash, scramHmac(hash, salted, 'Client Key')), serverKey: scramHmac(hash, salted, 'Server Key') };
}

/** Keys for a password with a fresh random salt (`salt` given: that one, for tests and RFC examples). */
export async function deriveScramCredential(hash: ScramHash, password: string, iterations: number, salt = randomBytes(SALT_BYTES)): Promise<ScramCredential> {
  return { hash, salt, iterations, ...keysFromSalted(hash, await saltedPassword(hash, password, salt, iterations)) };
}

/** Keys for every hash function, one salt each. */
export function deriveScramCredentials(password: string, iterations: number): Promise<ScramCredential[]> {
  return Promise.all(SCRAM_HASHES.map((h) => deriveScramCredential(h, password, iterations)));
}

/** The keys of a password being set, as `hashing` asks ([auth] scram-iterations); none when SCRAM is off. */
export function scramKeysFor(password: string, hashing: Pick<PasswordHashing, 'scramIterations'>): Promise<ScramCredential[]> {
  return hashing.scramIterations === null ? Promise.resolve([]) : deriveScramCredentials(password, hashing.scramIterations);
}

/**
 * After a verified main-password login: derives and stores the account's keys
 * when it has none for its current password hash, or they have another
 * iteration count than configured (accounts from before SCRAM, or from before
 * a change of `scram-iterations`). In the background: the login does not
 * wait, and a failure is only logged.
 */
export function ensureScramKeys(deps: { store: MailStore; log: Logger }, account: Account, password: string, iterations: number): void {
  const work = async (): Promise<void> => {
    const current = await Promise.all(SCRAM_HASHES.map((h) => deps.store.scramCredential(account.id, h)));
    if (current.every((c) => c !== null && c.iterations === iterations)) return;
    await deps.store.setScramCredentials(account.id, account.passwordHash, await deriveScramCredentials(password, iterations));
    deps.log.debug({ user: account.name }, 'SCRAM keys derived');
  };
  work().catch((err: unknown) => deps.log.warn({ err, user: account.name }, 'cannot derive SCRAM keys'));
}
