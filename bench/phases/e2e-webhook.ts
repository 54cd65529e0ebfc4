import { forkLoad, type LoadProcess, startServer } from '../lib/children.ts';
import { type Ctx, format, measured, withFreshDatabase } from '../lib/context.ts';
import { PEERS, type PeerName, type RunningProcess, startPeer, startRedis } from '../lib/peers.ts';
import { type Figure, figure, type Latency } from '../lib/stats.ts';

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
};

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
    );
    const one = await client.rpc.call<{ latencyMs: Latency }>('oneByOne', {
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
      loadedLatencyMs: loadedLatencyMs as Latency,
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
    try {
      const init = { url: server.url, path: '/v1/tasks', headers: { authorization: `Bearer ${server.apiKey}` } };
      return await measureWorkload(ctx, 'AsyncQueue', { process: server, init: { ...init, kind: 'asyncqueue' } });
    } finally {
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
  for (const name of PEERS) results[name] = await runPeer(ctx, name);
  return results;
}
