import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { ApiServices } from './api/context.ts';
import { registerHttpMetrics } from './api/http-metrics.ts';
import { createHttpServer } from './api/http-server.ts';
import { MetricsRegistry } from './api/metrics.ts';
import { buildOpenApiDocument } from './api/openapi-document.ts';
import { appRouter } from './api/routers/app-router.ts';
import { authenticate } from './auth/authenticate.ts';
import { bootstrapFirstTeam } from './auth/bootstrap.ts';
import { resolveEncryptionKey } from './auth/encryption-key.ts';
import { createSecretBox } from './auth/secret-box.ts';
import type { Config } from './config/config.ts';
import { type Database, openOrm, resolveDatabase, runMigrations } from './db/database.ts';
import { checkLiteralUrlHost, parseAllowedCidrs } from './dispatch/network-guard.ts';
import { startBoss } from './jobs/boss.ts';
import { createEnqueue } from './jobs/queues.ts';
import { createLogger, type Logger } from './logging/logger.ts';
import { createRateLimiter } from './ratelimit/rate-limiter.ts';
import { createTaskService } from './tasks/task-service.ts';

export type App = {
  url: string;
  server: http.Server;
  orm: MikroORM;
  boss: PgBoss;
  database: Database;
  logger: Logger;
  stop: () => Promise<void>;
};

export type AppOptions = {
  logger?: Logger;
  /** Called once with a generated bootstrap key (first start, no ASYNCQUEUE_BOOTSTRAP_API_KEY). */
  announceApiKey?: (apiKey: string) => void;
};

/** Why 4: the rate limiter does one short statement per request; 4 connections carry thousands/s. */
const SIDE_POOL_SIZE = 4;

/** Starts everything one instance runs, in dependency order, and returns how to stop it. */
export async function startApp(config: Config, opts: AppOptions = {}): Promise<App> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const database = await resolveDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    log: (msg, extra) => logger.warn(extra ?? {}, msg),
  });
  const orm = await openOrm(database.url, config.dbPoolSize);
  const applied = await runMigrations(orm, database.url);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  const boss = await startBoss({
    url: database.url,
    poolSize: config.dbPoolSize,
    takeoverSeconds: config.jobTakeoverSeconds,
    onError: (error) => logger.error({ err: { message: error.message } }, 'pg-boss error'),
  });
  const encryptionKey = await resolveEncryptionKey({
    configured: config.encryptionKey,
    dataDir: config.dataDir,
    warn: (message) => logger.warn(message),
  });
  await bootstrapFirstTeam(orm.em.fork(), {
    bootstrapApiKey: config.bootstrapApiKey,
    announce: (apiKey, generated) => {
      if (generated) (opts.announceApiKey ?? printApiKey)(apiKey);
      logger.info('created the default team and its first API key');
    },
  });

  const sidePool = new pg.Pool({ connectionString: database.url, max: SIDE_POOL_SIZE, application_name: 'asyncqueue-side' });
  const allowed = parseAllowedCidrs(config.allowedCidrs);
  const services: ApiServices = {
    tasks: createTaskService(orm, {
      enqueue: createEnqueue(boss),
      secretBox: createSecretBox(encryptionKey),
      publicUrl: config.publicUrl,
      maxBodyBytes: config.maxBodyBytes,
      maxWaitTime: config.maxWaitTime,
      providerBaseUrls: config.providerBaseUrls,
      checkUrl: (url) => checkLiteralUrlHost(url, allowed),
    }),
    authenticate: (key) => authenticate(orm.em.fork(), key),
    teamRateLimit: createRateLimiter(sidePool, { points: config.rateLimitPerMinute, keyPrefix: 'team' }),
  };

  const registry = new MetricsRegistry();
  let openApi: unknown;
  const server = createHttpServer({
    router: appRouter,
    services,
    logger,
    registry,
    httpMetrics: registerHttpMetrics(registry),
    maxBodyBytes: config.maxBodyBytes,
    trustProxy: config.trustProxy,
    openApiDocument: () => {
      openApi ??= buildOpenApiDocument(appRouter, { publicUrl: config.publicUrl, version: config.version });
      return openApi;
    },
    isReady: async () => {
      const database = await orm.em
        .fork()
        .execute('select 1')
        .then(() => true)
        .catch(() => false);
      return { ready: database && !stopping, checks: { database, queue: !stopping } };
    },
    rawRoutes: [],
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, host: config.host, role: config.role, embedded: database.embedded }, 'AsyncQueue is listening');

  let stopping = false;
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await boss.stop({ graceful: true, timeout: 10_000 }).catch(() => {});
      await sidePool.end().catch(() => {});
      await orm.close(true);
      await database.stop();
    })();
    return stopped;
  };
  return { url: `http://127.0.0.1:${port}`, server, orm, boss, database, logger, stop };
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
