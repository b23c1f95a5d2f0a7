/**
 * `mailkeep serve`: runs the server until SIGINT or SIGTERM, then shuts it
 * down gracefully (listeners close, sessions get BYE, the store closes);
 * SIGHUP reloads the TLS certificates. With `--workers N` (N > 1) this
 * process is the cluster's primary and the server runs in N workers
 * (server/cluster-primary.ts); each worker runs this command again and takes
 * the worker path.
 */
import cluster from 'node:cluster';
import type { Command } from 'commander';
import { describeSetting } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../log.js';
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
  const describeError = (err: unknown): string => (isListenError(err) ? listenErrorMessage(err, config) : `cannot start: ${(err as Error).message}`);
  if (cluster.isWorker) {
    const { runWorker } = await import('../server/cluster-worker.js');
    return runWorker(config, log, describeError);
  }
  let running: { stop(): Promise<void>; reload(): void };
  try {
    if (config.server.workers > 1) {
      const { startCluster } = await import('../server/cluster-primary.js');
      running = await startCluster(config, log.child({ worker: 0 }));
    } else {
      const { startServer } = await import('../server/server.js');
      const server = await startServer(config, log);
      // SIGHUP: read the certificate files again (certbot's deploy hook); sessions stay connected.
      running = { stop: () => server.stop('shutting down'), reload: () => void server.certificates.reload('SIGHUP') };
    }
  } catch (err) {
    if (isListenError(err)) throw new CliError(describeError(err));
    // The line a cluster worker reported for its own start-up failure (already logged there).
    if ((err as Error).name === 'WorkerStartError') throw new CliError((err as Error).message);
    log.fatal({ err }, 'startup failed');
    throw new CliError(describeError(err));
  }
  await untilSignal(log, running);
}

/** Serves until SIGINT or SIGTERM (graceful stop; a second one exits at once); SIGHUP reloads. */
function untilSignal(log: Logger, running: { stop(): Promise<void>; reload(): void }): Promise<never> {
  return new Promise<never>(() => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // A second signal means "now": skip the graceful wait.
        log.warn({ signal }, 'forced exit');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'shutting down');
      running.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', () => running.reload());
  });
}

/** Registers `serve`. */
export function registerServeCommand(program: Command): void {
  withConfigOptions(program.command('serve').description('run the IMAP/POP3/LMTP server')).action(serve);
}
