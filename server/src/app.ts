import type http from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { PgBoss } from 'pg-boss';
import type { ApiServices } from './api/context.ts';
import { startDomain } from './app/domain.ts';
import { createHttpPart } from './app/http.ts';
import { createShutdownList } from './app/shutdown.ts';
import { startStorage } from './app/storage.ts';
import { startWorkersOfRole } from './app/workers.ts';
import type { SecretBox } from './auth/secret-box.ts';
import type { Config } from './config/config.ts';
import type { Database } from './db/database.ts';
import type { Workers } from './jobs/workers.ts';
import { createLogger, type Logger } from './logging/logger.ts';

export type App = {
  url: string;
  server: http.Server;
  orm: MikroORM;
  boss: PgBoss;
  database: Database;
  logger: Logger;
  /** Seals and opens what is stored encrypted (team secrets, vault values, callback ids). */
  secretBox: SecretBox;
  /** What the API's procedures use (the tRPC context's `services`): lets tests call the router directly. */
  readonly services: ApiServices;
  stop: () => Promise<void>;
};

export type AppOptions = {
  logger?: Logger;
  /** Called once with a generated bootstrap key (first start, no ASYNCQUEUE_BOOTSTRAP_API_KEY). */
  announceApiKey?: (apiKey: string) => void;
};

/** Why 10 s: running jobs get this long to finish on SIGTERM; pg-boss retries the rest elsewhere. */
const JOB_DRAIN_MS = 10_000;

/**
 * Starts everything one instance runs, in dependency order, and returns how to stop it. Each part's
 * stop steps are added to the shutdown list as the part starts, and run in reverse: a part stops
 * before the parts it uses. So on SIGTERM: stop accepting requests, answer open long-polls with the
 * current state, let running jobs finish (bounded), then close connections, send the last NOTIFYs and
 * close the pools. Unfinished jobs are retried elsewhere.
 */
export async function startApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const shutdown = createShutdownList((msg) => logger.warn(msg));

  const storage = await startStorage(config, logger, opts.announceApiKey ?? printApiKey);
  const { database, orm, boss } = storage;
  shutdown.add('stopping the database', () => database.stop());
  shutdown.add('closing the ORM', () => orm.close(true));
  shutdown.add('closing the readiness probe', () => storage.databaseProbe.close());
  shutdown.add('closing the side pool', () => storage.sidePool.end());

  let workers: Workers | null = null;
  const domain = await startDomain(config, logger, storage, {
    wakeDispatch: () => workers?.wakeDispatch(),
    webhookAtOnce: () => workers?.webhookAtOnce,
  });
  shutdown.add('sending the last NOTIFYs', () => domain.notifier.flush());
  shutdown.add('stopping flow hand-overs', () => domain.flowGate.stop());

  // Open requests (long-polls answered below) may finish while the jobs drain; then they are cut.
  const httpPart = createHttpPart(config, logger, storage, domain);
  shutdown.add('closing HTTP connections', () => httpPart.closeConnections());
  shutdown.add('closing the HTTP caller', () => domain.caller.close());

  workers = await startWorkersOfRole(config, logger, storage, domain);
  let drainStart: number | undefined;
  // The dispatch drain (if any) and pg-boss's graceful stop share one JOB_DRAIN_MS budget.
  shutdown.add('draining jobs', () => {
    const drainLeft = Math.max(1_000, JOB_DRAIN_MS - (Date.now() - (drainStart ?? Date.now())));
    return boss.stop({ graceful: true, timeout: drainLeft });
  });
  const running = workers;
  if (running) {
    // Webhooks delivered at once after the dispatches' last changes; the rest are held-back jobs.
    shutdown.add('finishing webhook deliveries', () => running.webhookAtOnce.stop(JOB_DRAIN_MS));
    shutdown.add('draining dispatches', () => {
      drainStart = Date.now();
      return running.stopDispatch(JOB_DRAIN_MS);
    });
  }
  shutdown.add('closing idle HTTP connections', () => httpPart.server.closeIdleConnections());
  shutdown.add('answering long-polls', () => domain.listener.close());

  const port = await httpPart.listen();
  shutdown.add('refusing new connections', () => httpPart.stopAccepting());
  logger.info({ port, host: config.host, role: config.role, embedded: database.embedded }, 'AsyncQueue is listening');
  const { server } = httpPart;
  const { secretBox } = storage;
  const { services } = domain;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    orm,
    boss,
    database,
    logger,
    secretBox,
    services,
    stop: shutdown.run,
  };
}

function printApiKey(apiKey: string): void {
  process.stderr.write(
    [
      '',
      '  AsyncQueue created a default team. Its API key (shown once, store it now):',
      '',
      `    ${apiKey}`,
      '',
      '  Use it as `Authorization: Bearer <key>`. More keys: npx asyncqueue keys create --team <id> --name <name>',
      '',
    ].join('\n'),
  );
}
