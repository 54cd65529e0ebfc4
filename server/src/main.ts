import { startApp } from './app.ts';
import { ConfigError, loadConfig } from './config/config.ts';

/** Why 25 s: under the usual 30 s SIGTERM→SIGKILL grace of orchestrators, with room to exit. */
const SHUTDOWN_DEADLINE_MS = 25_000;

/** Entry point of `npm start` and `asyncqueue serve`: config → app → signals. */
export async function serve(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nFix the variables above and start again.\n`);
      process.exit(1);
    }
    throw error;
  }
  const app = await startApp(config);
  let shuttingDown = false;
  const shutdown = (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    app.logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      app.logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        app.logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (import.meta.main) {
  serve().catch((error: unknown) => {
    process.stderr.write(`AsyncQueue failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
