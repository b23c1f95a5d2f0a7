/**
 * The options every command shares for finding its configuration, and the
 * step that turns them into a validated Config.
 */
import type { Command } from 'commander';
import { CONFIG_FLAGS, CONFIG_PATH_ENV, ConfigError, formatConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { CliError, EXIT_USAGE } from './cli-error.js';

/**
 * Adds `--config` and the given configuration flags (default: all of them)
 * to a command. Flags come from CONFIG_FLAGS, so a new setting flag appears
 * on every command that takes it without touching the commands.
 */
export function withConfigOptions(cmd: Command, only?: readonly string[]): Command {
  cmd.option('--config <file>', `TOML configuration file (default: $${CONFIG_PATH_ENV} if set)`);
  for (const f of CONFIG_FLAGS) {
    if (only && !only.includes(f.flag)) continue;
    cmd.option(`--${f.flag}${f.arg ? ` ${f.arg}` : ''}`, f.description);
  }
  return cmd;
}

/** Loads the configuration for a command's options; invalid settings become a CliError with exit code 2. */
export function configFromOptions(opts: Record<string, unknown>): Config {
  try {
    return loadConfig({
      flags: opts,
      env: process.env,
      configPath: typeof opts.config === 'string' ? opts.config : undefined,
      warn: (message) => process.stderr.write(`mailkeep: warning: ${message}\n`),
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(formatConfigError(err), EXIT_USAGE, true);
    throw err;
  }
}
