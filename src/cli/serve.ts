/**
 * `mailkeep serve`: runs the server until SIGINT or SIGTERM, then shuts it
 * down gracefully (listeners close, sessions get BYE, the store closes);
 * SIGHUP reloads the TLS certificates.
 */
import type { Command } from 'commander';
import { describeSetting } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger } from '../log.js';
import { CliError, EXIT_USAGE } from './cli-error.js';
import { configFromOptions, withConfigOptions } from './config-options.js';

/** The shape of the listen errors startServer throws (see server/server.ts). */
interface ListenError extends Error {
  code: 'EADDRINUSE' | 'EACCES';
  port: number;
  setting: string;
  host?: string;
}

function isListenError(err: unknown): err is ListenError {
  if (!(err instanceof Error)) return false;
  const e = err as Partial<ListenError>;
  return (e.code === 'EADDRINUSE' || e.code === 'EACCES') && typeof e.port === 'number' && typeof e.setting === 'string';
}

/** One line telling the operator which setting to change, e.g. for a port already in use. */
export function listenErrorMessage(err: ListenError, config: Config): string {
  const host = err.host ?? (/lmtp/i.test(err.setting) ? config.lmtpHost : config.host);
  const hostPort = host.includes(':') ? `[${host}]:${err.port}` : `${host}:${err.port}`;
  const change = `change ${describeSetting(err.setting)}`;
  return err.code === 'EADDRINUSE'
    ? `cannot listen on ${hostPort} (address already in use); ${change} or stop the other server`
    : `cannot listen on ${hostPort} (permission denied); ${change} to a port above 1023 or grant the capability to bind low ports`;
}

async function serve(opts: Record<string, unknown>): Promise<void> {
  const config = configFromOptions(opts);
  // With nothing listening the process would just exit; say why instead.
  if ([config.imapPort, config.imapsPort, config.pop3Port, config.pop3sPort, config.lmtpPort, config.managesievePort].every((p) => p === 0)) {
    throw new CliError('every listener is disabled (all ports are 0); enable at least one port', EXIT_USAGE);
  }
  const log = createLogger(config);
  const { startServer } = await import('../server/server.js');
  let server;
  try {
    server = await startServer(config, log);
  } catch (err) {
    if (isListenError(err)) throw new CliError(listenErrorMessage(err, config));
    log.fatal({ err }, 'startup failed');
    throw new CliError(`cannot start: ${(err as Error).message}`);
  }
  const running = server;
  await new Promise<never>(() => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // A second signal means "now": skip the graceful wait.
        log.warn({ signal }, 'forced exit');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'shutting down');
      running.stop('shutting down').then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // SIGHUP: read the certificate files again (certbot's deploy hook); sessions stay connected.
    process.on('SIGHUP', () => void running.certificates.reload('SIGHUP'));
  });
}

/** Registers `serve`. */
export function registerServeCommand(program: Command): void {
  withConfigOptions(program.command('serve').description('run the IMAP/POP3/LMTP server')).action(serve);
}
