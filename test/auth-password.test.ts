import { strict as assert } from 'node:assert';
import { randomBytes, scryptSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { argon2Hash } from '../src/auth/argon2-hash.js';
import {
  DEFAULT_HASHING,
  hashPassword,
  needsRehash,
  type PasswordHashing,
  preparePassword,
  storedPasswordProblem,
  verifyPassword,
} from '../src/auth/password.js';

const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

/** A hash with chosen (cheaper) parameters, as an older version of the server might have stored. */
function legacyHash(password: string, ln: number): string {
  const salt = randomBytes(16);
  const key = scryptSync(password, salt, 32, { N: 2 ** ln, r: 8, p: 1 });
  return `$scrypt$ln=${ln},r=8,p=1$${b64(salt)}$${b64(key)}`;
}

/** scrypt at log2 N = `cost`, as `[auth] password-hash = "scrypt"` makes. */
const scryptAt = (cost: number): PasswordHashing => ({ ...DEFAULT_HASHING, algorithm: 'scrypt', scryptCost: cost });
const SCRYPT = scryptAt(15);

describe('password hashing', () => {
  it('hashes with argon2id by default, its parameters in the PHC string', async () => {
    const h = await hashPassword('correct horse');
    assert.match(h, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.ok(!h.includes('correct horse'));
    assert.equal(await verifyPassword('correct horse', h), true);
    assert.equal(await verifyPassword('correct horsE', h), false);
    assert.equal(needsRehash(h), false);
  });

  it('argon2id: weaker parameters or scrypt need re-hashing; stronger ones do not', async () => {
    const cheap: PasswordHashing = { ...DEFAULT_HASHING, argon2: { memoryKib: 1024, iterations: 1, parallelism: 1 } };
    const h = await hashPassword('pw', cheap);
    assert.match(h, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.equal(await verifyPassword('pw', h, DEFAULT_HASHING), true);
    assert.equal(needsRehash(h, cheap), false);
    assert.equal(needsRehash(h), true);
    assert.equal(needsRehash(await hashPassword('pw'), cheap), false);
    assert.equal(needsRehash(await hashPassword('pw', SCRYPT)), true);
    assert.equal(needsRehash(h, SCRYPT), true);
    for (const bad of [h.replace('m=1024', 'm=9999999'), h.replace('t=1', 't=99'), h.replace(/\$[^$]+$/, '$AAAA')]) {
      assert.equal(await verifyPassword('pw', bad), false, bad);
      assert.equal(needsRehash(bad, cheap), true);
    }
  });

  it('encodes the scrypt parameters, a 16-byte salt and a 32-byte key', async () => {
    const h = await hashPassword('correct horse', SCRYPT);
    const m = /^\$scrypt\$ln=15,r=8,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(h);
    assert.ok(m, h);
    assert.equal(Buffer.from(m[1]!, 'base64').length, 16);
    assert.equal(Buffer.from(m[2]!, 'base64').length, 32);
    assert.ok(!h.includes('correct horse'));
  });

  it('verifies the right password and rejects others', async () => {
    const h = await hashPassword('s3cret pass', SCRYPT);
    assert.equal(await verifyPassword('s3cret pass', h), true);
    assert.equal(await verifyPassword('s3cret pasS', h), false);
    assert.equal(await verifyPassword('', h), false);
  });

  it('salts: two hashes of one password differ and both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('same'), hashPassword('same')]);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('same', a), true);
    assert.equal(await verifyPassword('same', b), true);
  });

  it('verifies hashes with other parameters and flags weaker ones for re-hashing', async () => {
    const old = legacyHash('pw', 12);
    assert.equal(await verifyPassword('pw', old), true);
    assert.equal(await verifyPassword('px', old), false);
    assert.equal(needsRehash(old, SCRYPT), true);
    assert.equal(needsRehash(await hashPassword('pw', SCRYPT), SCRYPT), false);
  });

  it('hashes at a configured cost, and only hashes below that cost need re-hashing', async () => {
    const cheap = await hashPassword('pw', scryptAt(10));
    assert.match(cheap, /^\$scrypt\$ln=10,r=8,p=1\$/);
    assert.equal(await verifyPassword('pw', cheap), true);
    assert.equal(needsRehash(cheap, scryptAt(10)), false);
    assert.equal(needsRehash(cheap, scryptAt(11)), true);
    assert.equal(needsRehash(cheap, SCRYPT), true);
    assert.equal(needsRehash(await hashPassword('pw', SCRYPT), scryptAt(10)), false);
    assert.equal(await verifyPassword('pw', null, scryptAt(10)), false);
  });

  it('rejects malformed or out-of-bounds stored hashes without throwing', async () => {
    const good = await hashPassword('pw', SCRYPT);
    for (const bad of [
      '',
      'plaintext',
      good.replace('ln=15', 'ln=30'), // would need 2^30 × 1 KiB of memory
      good.replace('p=1', 'p=99'),
      good.slice(0, good.lastIndexOf('$')), // no key
      good.replace(/\$[^$]+$/, '$AAAA'), // 3-byte key
    ]) {
      assert.equal(await verifyPassword('pw', bad), false, bad);
      assert.equal(needsRehash(bad, SCRYPT), true);
    }
  });

  it('spends a hash computation and fails for an unknown account (null hash)', async () => {
    assert.equal(await verifyPassword('anything', null), false);
  });

  it('prepares with SASLprep: NFKC, non-ASCII spaces, mapped-to-nothing characters', async () => {
    assert.equal(preparePassword('I\u00ADX'), 'IX'); // soft hyphen mapped to nothing (RFC 4013 §3 example)
    assert.equal(preparePassword('user'), 'user');
    assert.equal(preparePassword('\u00AA'), 'a'); // NFKC
    assert.equal(preparePassword('\u2168'), 'IX');
    assert.equal(preparePassword('a\u00A0b'), 'a b');
    const h = await hashPassword('A\u030Angstr\u00F6m'); // decomposed Å
    assert.equal(await verifyPassword('\u00C5ngstr\u00F6m', h), true); // precomposed
    assert.equal(await verifyPassword('\uFF50\uFF57', await hashPassword('pw')), true); // fullwidth ｐｗ
  });

  it('a new password must pass SASLprep as a stored string; at login prohibited output fails, unassigned code points do not', async () => {
    assert.equal(storedPasswordProblem('p\u00E4ss w\u00F6rd'), null);
    assert.match(storedPasswordProblem('pw\u0007') ?? '', /prohibits/);
    assert.match(storedPasswordProblem('pw\uE000') ?? '', /prohibits/);
    assert.match(storedPasswordProblem('\u05D0\u05D11') ?? '', /right-to-left/);
    assert.match(storedPasswordProblem('pw\u{1F600}') ?? '', /unassigned in Unicode 3\.2/);
    assert.match(storedPasswordProblem('\u00AD\u200D') ?? '', /empty after SASLprep/);
    assert.equal(preparePassword('pw\u0007'), null);
    assert.equal(preparePassword('pw\u{1F600}'), 'pw\u{1F600}');
    // Hashes stored before the checks (argon2 of the prepared form, as the old subset made it).
    const cheap = { memoryKib: 1024, iterations: 1, parallelism: 1 };
    assert.equal(await verifyPassword('pw\u0007', await argon2Hash('pw\u0007', cheap)), false); // prohibited: refused like a wrong password
    assert.equal(await verifyPassword('pw\u{1F600}', await argon2Hash('pw\u{1F600}', cheap)), true); // unassigned: a query allows it
    assert.equal(await verifyPassword('\u05E9\u05DC\u05D5\u05DD123', await argon2Hash('\u05E9\u05DC\u05D5\u05DD123', cheap)), true); // bidi only: still compared
  });
});
