/**
 * Password hashing of test servers and of the CLI runs of tests (cli-helpers.ts): argon2id at 1 MiB and
 * one pass, SCRAM keys at RFC 7677's minimum of 4096 iterations, scrypt at 2^10. Tests check what a login
 * does, not the cost of the hash. An override wins: auth-password.test.ts checks the production defaults,
 * and the tests whose subject is that cost (login timing, login floods) run at them (PRODUCTION_HASHING_CONFIG).
 */
import { type PasswordHashing, passwordHashing } from '../../src/auth/password.js';
import { envName } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';

/** The settings, as config overrides (camelCase sections). */
export const CHEAP_HASHING_CONFIG = { auth: { argon2MemoryKib: 1024, argon2Iterations: 1, scramIterations: 4096 }, authThrottle: { passwordHashCost: 10 } };

/** The same as MAILKEEP_AUTH__… variables, for mailkeep child processes (cli-helpers.ts, spawnServer). */
export const CHEAP_HASHING_ENV: Record<string, string> = Object.fromEntries(
  Object.entries(CHEAP_HASHING_CONFIG).flatMap(([section, values]) => Object.entries(values).map(([key, v]) => [envName(`${section}.${key}`), String(v)])),
);

/** The same as the hashing that code outside a server takes (Administration, hashPassword). */
export const CHEAP_HASHING: PasswordHashing = passwordHashing(configSchema.parse(CHEAP_HASHING_CONFIG));

const defaults = configSchema.parse({});

/** The production defaults of the same settings, for the tests whose subject is what a real hash costs (login timing, floods). */
export const PRODUCTION_HASHING_CONFIG = {
  auth: { argon2MemoryKib: defaults.auth.argon2MemoryKib, argon2Iterations: defaults.auth.argon2Iterations, scramIterations: defaults.auth.scramIterations },
  authThrottle: { passwordHashCost: defaults.authThrottle.passwordHashCost },
};
