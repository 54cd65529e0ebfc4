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
    destination,
  );
}
