/**
 * The `mailkeep` command line (bin/mailkeep.js imports this module, which runs it).
 * Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error.
 * Errors are one line on stderr, never a stack trace (MAILKEEP_DEBUG=1 prints it).
 * To add a command, write its module with a register function and list it in COMMANDS.
 */
import { Command } from 'commander';
import { packageVersion } from '../config/version.js';
import { registerAdminCommands } from './admin.js';
import { registerAliasCommands } from './alias.js';
import { registerAutoconfigCommands } from './autoconfig.js';
import { registerBackupCommands } from './backup.js';
import { registerCertCommands } from './cert.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { registerDeliverCommand } from './deliver.js';
import { registerDnsCommand } from './dns.js';
import { registerDoctorCommand } from './doctor.js';
import { registerExportCommand } from './export.js';
import { registerImportCommand } from './import.js';
import { registerMigrateCommand } from './migrate.js';
import { registerQuotaCommands } from './quota.js';
import { registerServeCommand } from './serve.js';
import { registerSieveCommands } from './sieve.js';
import { registerStoreCommands } from './store-copy.js';
import { registerUserCommands } from './user.js';

/** Every top-level command, in help order. */
const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerServeCommand,
  registerUserCommands,
  registerQuotaCommands,
  registerImportCommand,
  registerExportCommand,
  registerMigrateCommand,
  registerDeliverCommand,
  registerAliasCommands,
  registerStoreCommands,
  registerDoctorCommand,
  registerAutoconfigCommands,
  registerDnsCommand,
  registerCertCommands,
  registerAdminCommands,
  registerBackupCommands,
  registerSieveCommands,
];

/** An unexpected error as one line: the first line of its message (Node's system errors name their code there), no stack. */
function errorLine(err: unknown): string {
  const text = err instanceof Error ? err.message || err.name : String(err);
  return text.split('\n', 1)[0]!;
}

/** Builds the program with every command registered. */
function buildProgram(): Command {
  const program = new Command('mailkeep').description('IMAP, POP3 and LMTP mail server').version(packageVersion());
  // Usage errors exit 2 instead of commander's 1; help and --version exit 0. Subcommands inherit this.
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));
  for (const register of COMMANDS) register(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
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
