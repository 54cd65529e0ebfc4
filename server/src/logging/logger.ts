import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON-lines logger. Nothing logs request headers or bodies; the redact list is a second line of
 * defence should a future log call pass them.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'asyncqueue' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'headers.authorization',
          'headers["x-api-key"]',
          'headers["xi-api-key"]',
          'headers.cookie',
          'apiKey',
          'callbackId',
          'signalToken',
          'value',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? stdoutLines(),
  );
}

/**
 * Stdout written asynchronously: a line is handed to the kernel after the current turn of the event
 * loop, together with every line logged meanwhile. Why: a synchronous write per line (one per
 * request) was ~5 % of the server's busy time under load (bench/README.md). pino flushes what is
 * left synchronously when the process exits.
 */
function stdoutLines(): DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}
