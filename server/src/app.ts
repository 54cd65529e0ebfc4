import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { createBodyReadSlots } from './api/body-read-slots.ts';
import type { ApiServices } from './api/context.ts';
import { externalRoutes } from './api/external-routes.ts';
import { registerHttpMetrics } from './api/http-metrics.ts';
import { createHttpServer } from './api/http-server.ts';
import { MetricsRegistry } from './api/metrics.ts';
import { buildOpenApiDocument } from './api/openapi-document.ts';
import { appRouter } from './api/routers/app-router.ts';
import { registerTaskMetrics } from './api/task-metrics.ts';
import { admit } from './auth/authenticate.ts';
import { bootstrapFirstTeam } from './auth/bootstrap.ts';
import { resolveEncryptionKey } from './auth/encryption-key.ts';
import { createKeyTeamHints } from './auth/key-team-hints.ts';
import { sealAtRest } from './auth/seal-at-rest.ts';
import { createSecretBox, type SecretBox } from './auth/secret-box.ts';
import { createVault } from './auth/vault.ts';
import { malformedVaultReferences } from './auth/vault-shaped-values.ts';
import type { Config } from './config/config.ts';
import { type Database, openOrm, resolveDatabase, runMigrations } from './db/database.ts';
import { createDatabaseProbe } from './db/database-probe.ts';
import { createByteBudget } from './dispatch/byte-budget.ts';
import { createHttpCaller } from './dispatch/http-caller.ts';
import { checkLiteralUrlHost, parseAllowedCidrs } from './dispatch/network-guard.ts';
import { startBoss } from './jobs/boss.ts';
import { createEnqueue, heartbeatSeconds } from './jobs/queues.ts';
import { startWorkers, type Workers } from './jobs/workers.ts';
import { createLogger, type Logger } from './logging/logger.ts';
import { createRateLimiter } from './ratelimit/rate-limiter.ts';
import { createChangeNotifier } from './tasks/change-notifier.ts';
import { effectivePollConfig, PROVIDER_PRESETS } from './tasks/providers/index.ts';
import { startTaskChangeListener } from './tasks/task-change-listener.ts';
import type { TaskEffects } from './tasks/task-effects.ts';
import { createTaskService } from './tasks/task-service.ts';

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

/**
 * Why 3: rate limiters run one short statement per request, and NOTIFYs go out batched; 3
 * connections carry thousands per second.
 */
const SIDE_POOL_SIZE = 3;
/**
 * Why 4: callback and signal bodies read at once (each up to 5 MiB, more once parsed) stay within a
 * few tens of MiB; a normal callback is read in milliseconds, so 4 slots serve hundreds a second.
 */
const CALLBACK_BODY_SLOTS = 4;
/** Why 10 s: running jobs get this long to finish on SIGTERM; pg-boss retries the rest elsewhere. */
const JOB_DRAIN_MS = 10_000;

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
  const secretBox = createSecretBox(encryptionKey);
  const resealed = await sealAtRest(orm.em.fork(), secretBox);
  if (resealed.teams + resealed.vaultTokens + resealed.callbackIds > 0) logger.info(resealed, 'sealed stored secrets');
  await bootstrapFirstTeam(orm.em.fork(), {
    secretBox,
    bootstrapApiKey: config.bootstrapApiKey,
    announce: (apiKey, generated) => {
      if (generated) (opts.announceApiKey ?? printApiKey)(apiKey);
      logger.info('created the default team and its first API key');
    },
  });

  const sidePool = new pg.Pool({
    connectionString: database.url,
    max: SIDE_POOL_SIZE,
    application_name: 'asyncqueue-side',
    // Why: this pool keeps rate-limit counters and sends NOTIFY-only statements; neither needs to
    // wait for the WAL flush. A team's counter row is then locked for microseconds instead of a
    // disk flush per request (one team's requests no longer queue behind each other's fsync), and a
    // NOTIFY holds PostgreSQL's NOTIFY lock as briefly. A database crash may forget the last few
    // milliseconds of counts, which costs nothing. Task and job writes stay synchronous.
    options: '-c synchronous_commit=off',
  });
  // An idle client can be terminated by the server (restart, shutdown): log it, never crash on it.
  sidePool.on('error', (error) => logger.warn({ err: { message: error.message } }, 'rate-limit pool connection error'));
  const listener = await startTaskChangeListener(database.url, (msg) => logger.warn(msg));
  const allowed = parseAllowedCidrs(config.allowedCidrs);
  const registry = new MetricsRegistry();
  const taskMetrics = registerTaskMetrics(registry, {
    activeTasks: async () => {
      const rows = await orm.em
        .fork()
        .execute<{ status: string; n: number }[]>(
          `select status, count(*)::int as n from tasks where status in ('pending','delayed','processing','waiting','polling') group by status`,
        );
      const counts: Record<string, number> = { pending: 0, delayed: 0, processing: 0, waiting: 0, polling: 0 };
      for (const r of rows) counts[r.status] = r.n;
      return counts;
    },
    queueJobs: async () =>
      Object.fromEntries(
        (await boss.getQueues()).map((q) => [
          q.name,
          { queued: q.queuedCount, active: q.activeCount, deferred: q.deferredCount },
        ]),
      ),
  });
  const enqueue = createEnqueue(boss);
  const notifier = createChangeNotifier(sidePool, (message) => logger.warn(message));
  const effects: TaskEffects = {
    enqueue,
    onTransition: (status) => taskMetrics.transition(status),
    publish: (task) => {
      listener.publish(task);
      notifier.taskChanged(task.id);
    },
  };

  const caller = createHttpCaller({ allowed, budget: createByteBudget(config.responseMemoryBytes) });
  const vault = createVault(secretBox);
  let workers: Workers | null = null;
  if (config.role !== 'api') {
    workers = await startWorkers(
      boss,
      {
        orm,
        effects,
        caller,
        publicUrl: config.publicUrl,
        version: config.version,
        maxResponseBytes: config.maxResponseBytes,
        retentionDays: config.retentionDays,
        // A third of the heartbeat window: the pump touches its jobs every half window, so a job whose
        // outcome waits this long is still inside its window (with a sixth to spare) and is never
        // handed to another worker meanwhile.
        recordRetryMs: (heartbeatSeconds(config.jobTakeoverSeconds) * 1000) / 3,
        secretBox,
        resolveVault: (teamId, headers) => vault.resolve(orm.em.fork(), teamId, headers),
        observeDispatch: taskMetrics.dispatch,
        observeWebhook: taskMetrics.webhook,
      },
      {
        onJobError: (queue, message) => logger.error({ queue, error: message }, 'job failed; pg-boss will retry it'),
        subscribe: (channel, onNotify) => listener.subscribe(channel, onNotify),
        heartbeatSeconds: heartbeatSeconds(config.jobTakeoverSeconds),
      },
    );
  }

  const keyTeams = createKeyTeamHints();
  const teamRateLimit = createRateLimiter(sidePool, { points: config.rateLimitPerMinute, keyPrefix: 'team' });
  const authFailureLimit = createRateLimiter(sidePool, {
    points: config.authFailureLimitPerMinute,
    keyPrefix: 'authfail',
  });
  const services: ApiServices = {
    tasks: createTaskService(
      orm,
      {
        enqueue,
        secretBox,
        publicUrl: config.publicUrl,
        maxBodyBytes: config.maxBodyBytes,
        maxWaitTime: config.maxWaitTime,
        providerBaseUrls: config.providerBaseUrls,
        checkUrl: (url) => checkLiteralUrlHost(url, allowed),
        missingVaultReferences: async (em, teamId, headers) => [
          ...malformedVaultReferences(headers),
          ...(await vault.missingReferences(em, teamId, headers)),
        ],
        onDispatchDue: () => {
          workers?.wakeDispatch();
          notifier.dispatchDue();
        },
      },
      listener,
      effects,
    ),
    admit: (key, clientIp) =>
      admit(orm.em.fork(), keyTeams, { team: teamRateLimit, failures: authFailureLimit }, key, clientIp),
    tokens: {
      create: (teamId, name, value) => vault.create(orm.em.fork(), teamId, name, value),
      list: (teamId) => vault.list(orm.em.fork(), teamId),
      delete: (teamId, id) => vault.delete(orm.em.fork(), teamId, id),
    },
    providers: {
      list: () =>
        PROVIDER_PRESETS.map((p) => ({
          id: p.id,
          name: p.name,
          description: p.description,
          pollConfig: effectivePollConfig(p, config.providerBaseUrls),
        })),
    },
  };

  let stopping = false;
  const databaseProbe = createDatabaseProbe(database.url, (message) => logger.warn(message));
  let openApi: unknown;
  const server = createHttpServer({
    router: appRouter,
    services,
    logger,
    registry,
    httpMetrics: registerHttpMetrics(registry),
    maxBodyBytes: config.maxBodyBytes,
    trustProxy: config.trustProxy,
    apiEnabled: config.role !== 'worker',
    openApiDocument: () => {
      openApi ??= buildOpenApiDocument(appRouter, { publicUrl: config.publicUrl, version: config.version });
      return openApi;
    },
    isReady: async () => {
      // Bounded (database-probe.ts): a database that stops answering is a 503 within a second.
      const databaseUp = await databaseProbe.reachable();
      return { ready: databaseUp && !stopping, checks: { database: databaseUp, queue: !stopping } };
    },
    rawRoutes: externalRoutes({
      orm,
      effects,
      callbackLimiter: createRateLimiter(sidePool, {
        points: config.callbackRateLimitPerMinute,
        keyPrefix: 'callback',
      }),
      signalLimiter: createRateLimiter(sidePool, { points: config.callbackRateLimitPerMinute, keyPrefix: 'signal' }),
      maxCallbackBytes: config.maxCallbackBytes,
      bodySlots: createBodyReadSlots(CALLBACK_BODY_SLOTS),
    }),
    limits: {
      maxConnections: config.maxConnections,
      headersTimeoutMs: config.httpHeadersTimeoutSeconds * 1000,
      requestTimeoutMs: config.httpRequestTimeoutSeconds * 1000,
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Why a backlog as large as the connection cap (the kernel still caps it at somaxconn): Node's
    // default of 511 overflows when a burst of clients connects at once, and the kernel then drops
    // SYNs, so every client (not just the burst's) waits 1–3 s for its connection to be retried.
    server.listen({ port: config.port, host: config.host, backlog: config.maxConnections }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ port, host: config.host, role: config.role, embedded: database.embedded }, 'AsyncQueue is listening');

  let stopped: Promise<void> | undefined;
  /**
   * SIGTERM order: stop accepting requests, answer open long-polls with the current state, let
   * running jobs finish (bounded), then close connections. Unfinished jobs are retried elsewhere.
   */
  const step = (name: string, work: Promise<unknown>) => boundedStep(name, work, (msg) => logger.warn(msg));
  const stop = () => {
    stopped ??= (async () => {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await step('answering long-polls', listener.close());
      server.closeIdleConnections();
      const drainStart = Date.now();
      if (workers) await step('draining dispatches', workers.stopDispatch(JOB_DRAIN_MS));
      const drainLeft = Math.max(1_000, JOB_DRAIN_MS - (Date.now() - drainStart));
      await step('draining jobs', boss.stop({ graceful: true, timeout: drainLeft }));
      await step('closing the HTTP caller', caller.close());
      server.closeAllConnections();
      await step('closing HTTP connections', closed);
      await step('sending the last NOTIFYs', notifier.flush());
      await step('closing the side pool', sidePool.end());
      await step('closing the readiness probe', databaseProbe.close());
      await step('closing the ORM', orm.close(true));
      await step('stopping the database', database.stop());
    })();
    return stopped;
  };
  return { url: `http://127.0.0.1:${port}`, server, orm, boss, database, logger, secretBox, services, stop };
}

/** Why 15 s: a shutdown step that takes longer is stuck; the rest of the shutdown must still run. */
const STEP_BOUND_MS = 15_000;

/** Awaits one shutdown step, but never longer than STEP_BOUND_MS, and never throws. */
async function boundedStep(name: string, work: Promise<unknown>, warn: (msg: string) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), STEP_BOUND_MS);
  });
  const outcome = await Promise.race([
    work.then(
      () => 'done' as const,
      () => 'failed' as const,
    ),
    bound,
  ]);
  clearTimeout(timer);
  if (outcome !== 'done')
    warn(`shutdown: ${name} ${outcome === 'late' ? `took over ${STEP_BOUND_MS} ms; going on` : 'failed'}`);
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
