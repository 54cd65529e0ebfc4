import { forkLoad, type LoadProcess, startServer } from '../lib/children.ts';
import { type Ctx, format, measured, withFreshDatabase } from '../lib/context.ts';
import { PEERS, type PeerName, type RunningProcess, startPeer, startRedis } from '../lib/peers.ts';
import { type Counter, openCounter } from '../lib/postgres.ts';
import { type Figure, figure, type Latency, percentile } from '../lib/stats.ts';

/** One system running the end-to-end-with-webhook workload (AsyncQueue or a peer). */
export type WebhookResults = {
  /** Tasks / (last webhook received − first create sent), per run. */
  throughput: Figure;
  /** Create sent → webhook received, one task at a time. */
  latencyMs: Latency;
  /** The same under the throughput load (queueing included), of the last run. */
  loadedLatencyMs: Latency;
  /** CPU (user + system) of the process under test per 1,000 tasks; Redis's own for BullMQ. */
  cpuMsPer1000: Figure;
  redisCpuMsPer1000?: Figure;
  /** AsyncQueue only: where the one-at-a-time create → webhook time goes, p50 of each stage (ms). */
  stagesMs?: Record<string, number>;
  /** VmHWM of the process under test over the phase, MB. */
  peakRssMb: number;
  created: number;
  lost: number;
  duplicates: number;
};

type Batch = { created: number; failed: number; firstSendAt: number };
type Awaited = { received: number; missing: number; lastAt: number; loadedLatencyMs: Latency };

/** Why 120 s: far beyond any run's drain time; a task without its webhook by then counts as lost. */
const DRAIN_TIMEOUT_MS = 120_000;

type System = {
  process: RunningProcess | { pid: number; cpuSeconds(): Promise<number>; rssMb(): Promise<{ hwm: number }> };
  side?: RunningProcess;
  init: { url: string; path: string; headers: Record<string, string>; kind: 'asyncqueue' | 'peer' };
  stages?: (samples: Sample[]) => Promise<Record<string, number>>;
};
export type Sample = { id: string; sentAt: number; hookAt: number };

/** Warm-up, `runs` closed-loop runs (throughput), then one-at-a-time latency samples. */
async function measureWorkload(ctx: Ctx, label: string, system: System): Promise<WebhookResults> {
  const { sizes } = ctx;
  const client: LoadProcess = forkLoad('e2e-client.ts');
  try {
    await client.rpc.call('init', { ...system.init, connections: sizes.httpConcurrency + 8 });
    const cpu: number[] = [];
    const sideCpu: number[] = [];
    let created = 0;
    let lost = 0;
    let loadedLatencyMs: Latency | undefined;
    const batch = async (durationMs: number) => {
      const cpuBefore = await system.process.cpuSeconds();
      const sideBefore = (await system.side?.cpuSeconds()) ?? 0;
      const b = await client.rpc.call<Batch>('createBatch', { durationMs, concurrency: sizes.httpConcurrency });
      const a = await client.rpc.call<Awaited>('awaitBatch', { timeoutMs: DRAIN_TIMEOUT_MS });
      created += b.created;
      lost += a.missing;
      cpu.push((((await system.process.cpuSeconds()) - cpuBefore) * 1e6) / b.created);
      if (system.side) sideCpu.push((((await system.side.cpuSeconds()) - sideBefore) * 1e6) / b.created);
      loadedLatencyMs = a.loadedLatencyMs;
      if (b.failed > 0) ctx.progress(`${label}: ${b.failed} creates failed`);
      return b.created / ((a.lastAt - b.firstSendAt) / 1000);
    };
    const throughput = await measured(
      ctx,
      `${label} e2e+webhook`,
      'tasks/s',
      () => batch(sizes.warmupMs),
      () => batch(sizes.peerRunMs),
      sizes.peerRuns,
    );
    const one = await client.rpc.call<{ latencyMs: Latency; samples: Sample[] }>('oneByOne', {
      samples: sizes.latencySamples,
      warmup: sizes.latencyWarmup,
      gapMs: 20,
    });
    ctx.progress(`${label}: create→webhook p50 ${format(one.latencyMs.p50)} ms, p99 ${format(one.latencyMs.p99)} ms`);
    // Late duplicates would come after the last first delivery: give them a moment.
    await new Promise((resolve) => setTimeout(resolve, ctx.quick ? 300 : 1_000));
    const { duplicates } = await client.rpc.call<{ duplicates: number }>('duplicates');
    return {
      throughput,
      latencyMs: one.latencyMs,
      stagesMs: system.stages ? await system.stages(one.samples) : undefined,
      loadedLatencyMs: loadedLatencyMs as Latency,
      // Without the warm-up's.
      cpuMsPer1000: figure(cpu.slice(1)), // without the warm-up's
      redisCpuMsPer1000: system.side ? figure(sideCpu.slice(1)) : undefined,
      peakRssMb: (await system.process.rssMb()).hwm,
      created,
      lost,
      duplicates,
    };
  } finally {
    await client.rpc.call('close', {}, 10_000).catch(() => {});
    await client.stop();
  }
}

/** AsyncQueue: direct tasks with an onCompleteUrl, create → target → completion webhook received. */
export function runAsyncQueueWebhook(ctx: Ctx): Promise<WebhookResults> {
  return withFreshDatabase(ctx, 'e2e_webhook', async (db) => {
    const server = await startServer({
      databaseUrl: db.url,
      poolSize: ctx.poolSize,
      role: 'all',
      logDir: ctx.logDir,
      name: 'e2e-webhook',
      nodeArgs: ctx.serverNodeArgs,
    });
    const counter = await openCounter(db.url);
    try {
      const init = { url: server.url, path: '/v1/tasks', headers: { authorization: `Bearer ${server.apiKey}` } };
      const stages = (samples: Sample[]) => taskStages(counter, samples);
      return await measureWorkload(ctx, 'AsyncQueue', {
        process: server,
        init: { ...init, kind: 'asyncqueue' },
        stages,
      });
    } finally {
      await counter.close();
      await server.stop();
    }
  });
}

/** A peer (bench/peers/<name>.ts) on a fresh database, or on its own Redis for BullMQ. */
export async function runPeer(ctx: Ctx, name: PeerName): Promise<WebhookResults> {
  const peerLogs = `${ctx.logDir}/peers`;
  if (name === 'bullmq') {
    const redis = await startRedis(peerLogs);
    try {
      const peer = await startPeer(name, { REDIS_URL: redis.url }, peerLogs);
      try {
        const init = { url: peer.url, path: '/tasks', headers: {}, kind: 'peer' as const };
        return await measureWorkload(ctx, name, { process: peer, side: redis, init });
      } finally {
        await peer.stop();
      }
    } finally {
      await redis.stop();
    }
  }
  return withFreshDatabase(ctx, `peer_${name.replace('-', '_')}`, async (db) => {
    const peer = await startPeer(name, { DATABASE_URL: db.url }, peerLogs);
    try {
      const init = { url: peer.url, path: '/tasks', headers: {}, kind: 'peer' as const };
      return await measureWorkload(ctx, name, { process: peer, init });
    } finally {
      await peer.stop();
    }
  });
}

/** Every peer, one after another. */
export async function runPeers(ctx: Ctx): Promise<Partial<Record<PeerName, WebhookResults>>> {
  const results: Partial<Record<PeerName, WebhookResults>> = {};
  for (const name of PEERS) {
    try {
      results[name] = await runPeer(ctx, name);
    } catch (error) {
      // A peer that dies (seen once: out of connections on a machine shared with test suites) is
      // reported and left out of the table; AsyncQueue's own figures and the other peers still count.
      ctx.progress(`PEER FAILED: ${name}: ${(error as Error)?.message ?? error} (its log: ${ctx.logDir}/peers)`);
    }
  }
  return results;
}

/**
 * Where a task's create → webhook time goes, from the task row's own times (each `now()` is the
 * start of the statement's transaction) and the webhook record's send time, on the same clock as
 * the client's (one machine): p50 of each stage over the one-at-a-time samples.
 */
async function taskStages(counter: Counter, samples: Sample[]): Promise<Record<string, number>> {
  const { rows } = await counter.query<{
    id: string;
    created: number;
    started: number;
    completed: number;
    sent: number;
  }>(
    `select id, extract(epoch from created_at) * 1000 as created, extract(epoch from started_at) * 1000 as started,
            extract(epoch from completed_at) * 1000 as completed,
            extract(epoch from (webhook_deliveries -> 0 ->> 'sentAt')::timestamptz) * 1000 as sent
     from tasks where id = any($1::uuid[])`,
    [samples.map((s) => s.id)],
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const stage = (f: (s: Sample, r: (typeof rows)[number]) => number) =>
    percentile(
      samples.flatMap((s) => {
        const r = byId.get(s.id);
        return r ? [f(s, r)] : [];
      }),
      50,
    );
  return {
    'create sent → task row (INSERT)': stage((s, r) => Number(r.created) - s.sentAt),
    'task row → claimed (dispatch pickup)': stage((_, r) => Number(r.started) - Number(r.created)),
    'claimed → completed (target call)': stage((_, r) => Number(r.completed) - Number(r.started)),
    'completed → webhook sent (webhook job pickup)': stage((_, r) => Number(r.sent) - Number(r.completed)),
    'webhook sent → received': stage((s, r) => s.hookAt - Number(r.sent)),
  };
}
