/**
 * `mailkeep autoconfig apple <address>`: the Apple configuration profile for
 * an address on stdout (`> alice.mobileconfig`), the same bytes as
 * https://<hostname>/apple/mobileconfig?email=… serves: signed with the pair
 * the server presents for its hostname (tls-cert, [[tls.certificates]] or
 * ACME's) when that is CA-issued, otherwise the plain (unverified) profile.
 */
import type { Command } from 'commander';
import { accountSetup } from '../autoconfig/account-setup.js';
import { appleMobileconfig } from '../autoconfig/mobileconfig.js';
import { profileBytes, type SigningPair } from '../autoconfig/profile-signing.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { loadCertificateSet, selectPair } from '../net/certificate-set.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';
import { STORE_FLAGS, withStore } from './with-store.js';

/** Settings client set-up answers depend on. */
export const CLIENT_SETUP_FLAGS: readonly string[] = ['hostname', 'domains', 'imap-port', 'imaps-port', 'pop3-port', 'pop3s-port', 'submission-host'];

/** The pair the server presents for its hostname (profileBytes leaves the profile unsigned when it is self-signed). */
async function hostnamePair(config: Config): Promise<SigningPair> {
  const { set } = await loadCertificateSet(config, createLogger({ log: { level: 'silent', trace: false } }), null);
  return selectPair(set, config.hostname);
}

async function apple(address: string, opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  const setup = await withStore(config, (store) => accountSetup(config, store, address));
  if (setup === null) {
    const served = config.domains.length === 0 ? '' : ` (domains: ${config.domains.join(', ')})`;
    throw new CliError(`not an address this server serves: ${JSON.stringify(address)}${served}`, EXIT_USAGE);
  }
  const profile = appleMobileconfig(setup, config.hostname);
  if (profile === null) throw new CliError('no IMAP or POP3 listener is enabled: there is nothing to set up');
  const { body, signed } = await profileBytes(profile, await hostnamePair(config));
  process.stdout.write(body);
  if (!signed) process.stderr.write('mailkeep: the profile is unsigned (the certificate is self-signed): devices will show it as unverified\n');
}

/** Registers `autoconfig` and its subcommand `apple`. */
export function registerAutoconfigCommands(program: Command): void {
  const autoconfig = program.command('autoconfig').description('client set-up files for an address');
  withConfigOptions(autoconfig.command('apple').argument('<address>').description('write the Apple Mail configuration profile (.mobileconfig) to stdout'), [
    ...STORE_FLAGS,
    ...CLIENT_SETUP_FLAGS,
    'tls-cert',
    'tls-key',
  ]).action(apple);
}
