/**
 * Logging: pino JSON lines on stdout, a child logger per session, and the
 * sink of per-session protocol traces.
 *
 * Invariant: passwords never reach a log. Structured fields named like
 * passwords are censored by pino itself; protocol traces arrive redacted by
 * the protocols, which know which token is a secret or message data.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type { Config } from './config/schema.js';

/** The logger type every module receives. */
export type Logger = PinoLogger;

/** Creates the process logger at the configured level, writing JSON lines to stdout (or `destination`). */
export function createLogger(config: Pick<Config, 'log'>, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.log.level,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Defence in depth: a stray `{ password }` field is censored, not written.
      redact: { paths: ['password', 'pass', 'passwordHash', '*.password', '*.pass', '*.passwordHash'], censor: '[redacted]' },
    },
    destination ?? pino.destination(1),
  );
}

/** A child logger whose every line carries the session id (and any extra fields, e.g. the client address). */
export function sessionLogger(log: Logger, session: string, fields: Record<string, unknown> = {}): Logger {
  return log.child({ session, ...fields });
}

/**
 * A session's protocol trace sink (net/trace.ts `TraceSink`): each entry,
 * already redacted by the protocol that framed or wrote it, logged as
 * `{ trace: 'C' | 'S', data }`.
 */
export function protocolTrace(log: Logger): { client(data: string): void; server(data: string): void } {
  const emit = (trace: 'C' | 'S', data: string): void => {
    if (data !== '') log.info({ trace, data }, 'trace');
  };
  return { client: (data) => emit('C', data), server: (data) => emit('S', data) };
}
