import type { MikroORM } from '@mikro-orm/postgresql';
import type { PgBoss } from 'pg-boss';
import type { ApiServices } from '../api/context.ts';
import { admit, admitSession } from '../auth/authenticate.ts';
import { endSession, readSession, SIGN_IN_ATTEMPTS_PER_MINUTE, startSession } from '../auth/dashboard-sessions.ts';
import { createKeyTeamHints } from '../auth/key-team-hints.ts';
import { createVault, type Vault } from '../auth/vault.ts';
import { malformedVaultReferences } from '../auth/vault-shaped-values.ts';
import type { Config } from '../config/config.ts';
import type { Task } from '../db/entities/task.ts';
import { createByteBudget } from '../dispatch/byte-budget.ts';
import { createHttpCaller, type HttpCaller } from '../dispatch/http-caller.ts';
import { type AllowedCidrs, checkLiteralUrlHost, parseAllowedCidrs } from '../dispatch/network-guard.ts';
import { createFlowGate, type FlowGate } from '../flow/flow-gate.ts';
import { createFlowService } from '../flow/flow-service.ts';
import { isFlowKeyLimited } from '../flow/store/flow-keys.ts';
import { createEnqueue, createEnqueueMany, type EnqueueMany } from '../jobs/queues.ts';
import { createRideJob } from '../jobs/send-riding.ts';
import type { Logger } from '../logging/logger.ts';
import { registerFlowMetrics } from '../metrics/flow-metrics.ts';
import { MetricsRegistry } from '../metrics/metrics-registry.ts';
import { registerTaskMetrics, type TaskMetrics } from '../metrics/task-metrics.ts';
import { createRateLimiter, type RateLimiter } from '../ratelimit/rate-limiter.ts';
import type { BatchDeps } from '../tasks/batch-create.ts';
import { type ChangeNotifier, createChangeNotifier } from '../tasks/change-notifier.ts';
import { effectivePollConfig, PROVIDER_PRESETS } from '../tasks/providers/index.ts';
import { flowKeyMetrics } from '../tasks/store/flow.ts';
import { countActiveTasks } from '../tasks/store/stats.ts';
import { startTaskChangeListener, type TaskChangeListener } from '../tasks/task-change-listener.ts';
import { createTaskLifecycle, type TaskLifecycle, type WebhookAtOnce } from '../tasks/task-lifecycle.ts';
import { createTaskService } from '../tasks/task-service.ts';
import type { Storage } from './storage.ts';

/** The use cases and what they share: the task lifecycle, the vault, limiters, metrics. */
export type Domain = {
  listener: TaskChangeListener;
  notifier: ChangeNotifier;
  lifecycle: TaskLifecycle;
  caller: HttpCaller;
  vault: Vault;
  registry: MetricsRegistry;
  taskMetrics: TaskMetrics;
  services: ApiServices;
  /** Per-IP limits of the unauthenticated callback and signal routes. */
  callbackLimiter: RateLimiter;
  signalLimiter: RateLimiter;
  /** Hands freed flow-control capacity to held tasks (flow/). */
  flowGate: FlowGate;
};

/**
 * Starts the LISTEN connection and builds the domain on top of storage. `wakeDispatch` wakes this
 * process's dispatch pump (if it runs one) when a task is created due now; `webhookAtOnce` is its
 * at-once webhook delivery (if it runs workers).
 */
export async function startDomain(
  config: Config,
  logger: Logger,
  storage: Storage,
  workers: { wakeDispatch: () => void; webhookAtOnce: () => WebhookAtOnce | undefined },
): Promise<Domain> {
  const { wakeDispatch } = workers;
  const { orm, boss, secretBox, sidePool } = storage;
  const listener = await startTaskChangeListener(storage.database.url, (msg) => logger.warn(msg));
  const allowed = parseAllowedCidrs(config.allowedCidrs);
  const registry = new MetricsRegistry();
  const taskMetrics = registerTaskMetrics(registry, gaugeReaders(orm, boss));
  registerFlowMetrics(registry, () => flowKeyMetrics(orm.em.fork()));
  const notifier = createChangeNotifier(sidePool, (message) => logger.warn(message));
  const enqueue = createEnqueue(boss);
  const onDispatchDue = () => {
    wakeDispatch();
    notifier.dispatchDue();
  };
  const enqueueMany = createEnqueueMany(boss);
  const flowGate = createFlowGate({
    orm,
    enqueueMany,
    onDispatchDue,
    onError: (message) => logger.warn(message),
  });
  const lifecycle = createTaskLifecycle(orm, {
    enqueue,
    onTransition: (status) => taskMetrics.transition(status),
    publish: (task) => {
      listener.publish(task);
      notifier.taskChanged(task.id);
      if (mayFreeFlowSlot(task)) flowGate.wake(task.teamId, task.flowKey as string);
    },
    notify: (taskId) => notifier.taskChanged(taskId),
    webhookAtOnce: workers.webhookAtOnce,
    rideJob: createRideJob(boss),
  });
  const caller = createHttpCaller({ allowed, budget: createByteBudget(config.responseMemoryBytes) });
  const vault = createVault(secretBox);
  const services = createServices(config, orm, {
    listener,
    lifecycle,
    enqueue,
    vault,
    secretBox,
    allowed,
    sidePool,
    onDispatchDue,
    onCreated: (taskId) => notifier.taskChanged(taskId),
    enqueueMany,
    flowGate,
  });
  return {
    listener,
    notifier,
    lifecycle,
    caller,
    vault,
    registry,
    taskMetrics,
    services,
    callbackLimiter: createRateLimiter(sidePool, { points: config.callbackRateLimitPerMinute, keyPrefix: 'callback' }),
    signalLimiter: createRateLimiter(sidePool, { points: config.callbackRateLimitPerMinute, keyPrefix: 'signal' }),
    flowGate,
  };
}

/**
 * A committed change after which the key's hand-over must look: an ended attempt or task that held
 * a slot (a slot may be free) or a task sent back in line by a 429 (the key's pause needs its
 * timer). A claim (processing with a lease) changes nothing there, and neither does a task of a key
 * without limits: it was never granted a slot (flow_slot null), so ending it frees none.
 */
function mayFreeFlowSlot(task: Task): boolean {
  if (task.flowKey == null || task.dispatchLease != null || task.status === 'delayed') return false;
  return task.flowSlot != null || task.flowHeld;
}

/** The gauges of /metrics, read at scrape time. */
function gaugeReaders(orm: MikroORM, boss: PgBoss) {
  return {
    activeTasks: () => countActiveTasks(orm.em.fork()),
    queueJobs: async () =>
      Object.fromEntries(
        (await boss.getQueues()).map((q) => [
          q.name,
          { queued: q.queuedCount, active: q.activeCount, deferred: q.deferredCount },
        ]),
      ),
  };
}

type ServiceParts = {
  listener: TaskChangeListener;
  lifecycle: TaskLifecycle;
  enqueue: ReturnType<typeof createEnqueue>;
  vault: Vault;
  secretBox: Storage['secretBox'];
  allowed: AllowedCidrs;
  sidePool: Storage['sidePool'];
  onDispatchDue: () => void;
  /** A new task committed: NOTIFYed like a transition, so every instance's event streams show it. */
  onCreated: (taskId: string) => void;
  enqueueMany: EnqueueMany;
  flowGate: FlowGate;
};

/** What the API's procedures call (the tRPC context's `services`). */
function createServices(config: Config, orm: MikroORM, parts: ServiceParts): ApiServices {
  const { vault, allowed } = parts;
  const keyTeams = createKeyTeamHints();
  const teamRateLimit = createRateLimiter(parts.sidePool, { points: config.rateLimitPerMinute, keyPrefix: 'team' });
  const authFailureLimit = createRateLimiter(parts.sidePool, {
    points: config.authFailureLimitPerMinute,
    keyPrefix: 'authfail',
  });
  const signInLimit = createRateLimiter(parts.sidePool, { points: SIGN_IN_ATTEMPTS_PER_MINUTE, keyPrefix: 'signin' });
  const createDeps: BatchDeps = {
    enqueue: parts.enqueue,
    secretBox: parts.secretBox,
    publicUrl: config.publicUrl,
    maxBodyBytes: config.maxBodyBytes,
    maxWaitTime: config.maxWaitTime,
    providerBaseUrls: config.providerBaseUrls,
    checkUrl: (url) => checkLiteralUrlHost(url, allowed),
    missingVaultReferences: async (em, teamId, headers) => [
      ...malformedVaultReferences(headers),
      ...(await vault.missingReferences(em, teamId, headers)),
    ],
    onDispatchDue: parts.onDispatchDue,
    onCreated: parts.onCreated,
    enqueueMany: parts.enqueueMany,
    flowKeyLimited: isFlowKeyLimited,
    onFlowHeld: (teamId, flowKey) => parts.flowGate.wake(teamId, flowKey),
  };
  return {
    tasks: createTaskService(parts.lifecycle, createDeps, parts.listener),
    admit: (key, clientIp) =>
      admit(orm.em.fork(), keyTeams, { team: teamRateLimit, failures: authFailureLimit }, key, clientIp),
    admitSession: (sessionId, request, clientIp) =>
      admitSession(orm.em.fork(), { team: teamRateLimit, failures: authFailureLimit }, sessionId, request, clientIp),
    sessions: {
      signInAttempt: (clientIp) => signInLimit.consume(clientIp),
      start: (principal) => startSession(orm.em.fork(), principal),
      read: (sessionId) => readSession(orm.em.fork(), sessionId),
      end: (sessionId) => endSession(orm.em.fork(), sessionId),
    },
    teamRateLimit: {
      take: (teamId, points) => teamRateLimit.consume(teamId, points),
      giveBack: (teamId, points) => teamRateLimit.refund(teamId, points),
    },
    tokens: {
      create: (teamId, name, value) => vault.create(orm.em.fork(), teamId, name, value),
      list: (teamId) => vault.list(orm.em.fork(), teamId),
      delete: (teamId, id) => vault.delete(orm.em.fork(), teamId, id),
    },
    flowKeys: createFlowService(orm, parts.flowGate),
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
}
