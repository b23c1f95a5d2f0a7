/**
 * The `mailkeep` command line (bin/mailkeep.js imports this module, which runs it).
 * Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error.
 * Errors are one line on stderr, never a stack trace (MAILKEEP_DEBUG=1 prints it).
 * To add a command, write its module with a register function and list it in COMMANDS.
 */
import { Command } from 'commander';
import { packageVersion } from '../config/version.js';
import { CliError, EXIT_USAGE } from './cli-error.js';

type Register = (program: Command) => void;

/**
 * Every top-level command, in help order, with the module that registers it. A run loads only the module of
 * the command it names (a command's module pulls in its whole implementation: loading all of them cost every
 * `mailkeep user …` about 0.2 s of CPU); help and unknown commands load all, --version none.
 */
const COMMANDS: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register> }> = [
  { names: ['serve'], load: async () => (await import('./serve.js')).registerServeCommand },
  { names: ['user'], load: async () => (await import('./user.js')).registerUserCommands },
  { names: ['quota'], load: async () => (await import('./quota.js')).registerQuotaCommands },
  { names: ['import'], load: async () => (await import('./import.js')).registerImportCommand },
  { names: ['export'], load: async () => (await import('./export.js')).registerExportCommand },
  { names: ['migrate'], load: async () => (await import('./migrate.js')).registerMigrateCommand },
  { names: ['deliver'], load: async () => (await import('./deliver.js')).registerDeliverCommand },
  { names: ['alias'], load: async () => (await import('./alias.js')).registerAliasCommands },
  { names: ['store'], load: async () => (await import('./store-copy.js')).registerStoreCommands },
  { names: ['doctor'], load: async () => (await import('./doctor.js')).registerDoctorCommand },
  { names: ['autoconfig'], load: async () => (await import('./autoconfig.js')).registerAutoconfigCommands },
  { names: ['dns'], load: async () => (await import('./dns.js')).registerDnsCommand },
  { names: ['cert'], load: async () => (await import('./cert.js')).registerCertCommands },
  { names: ['admin'], load: async () => (await import('./admin.js')).registerAdminCommands },
  { names: ['backup', 'restore'], load: async () => (await import('./backup.js')).registerBackupCommands },
  { names: ['sieve'], load: async () => (await import('./sieve.js')).registerSieveCommands },
];

/** An unexpected error as one line: the first line of its message (Node's system errors name their code there), no stack. */
function errorLine(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.split('\n', 1)[0]!;
}

/** Builds the program with the command `argv` names registered, or every command when it names none. */
async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('mailkeep').description('IMAP, POP3 and LMTP mail server').version(packageVersion());
  // Usage errors exit 2 instead of commander's 1; help and --version exit 0. Subcommands inherit this.
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));
  const first = argv[2] ?? '';
  const named = COMMANDS.filter((c) => c.names.includes(first));
  const version = first === '-V' || first === '--version';
  for (const command of named.length > 0 || version ? named : COMMANDS) (await command.load())(program);
  return program;
}

try {
  await (await buildProgram(process.argv)).parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(err.bare ? `${err.message}\n` : `mailkeep: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    // A user gets one line; MAILKEEP_DEBUG=1 adds the stack for a bug report.
    const debug = process.env.MAILKEEP_DEBUG === '1' && err instanceof Error && err.stack;
    process.stderr.write(`mailkeep: ${debug ? err.stack : errorLine(err)}\n`);
    process.exitCode = 1;
  }
}
