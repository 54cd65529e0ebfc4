import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { startServer } from '../lib/children.ts';
import { type Ctx, measured, withFreshDatabase } from '../lib/context.ts';
import { type Counter, openCounter } from '../lib/postgres.ts';
import { type Figure, type Latency, latency, nowMs, sleep } from '../lib/stats.ts';

/**
 * Flow control's cost and speed, on one server process and a fresh database:
 * - end-to-end direct tasks (create → dispatched → completed) without a flow key, then on a key
 *   whose limit is far above the load (every task goes through the claim's gate and a hand-over):
 *   the overhead of flow control when it does not bind;
 * - hand-over latency: a key with concurrency 1 and tasks that call back 20 ms after their
 *   submit; from the callback that ends one task (and frees the slot) to the next task's arrival.
 */
export type FlowControlResults = {
  unkeyed: Figure;
  keyed: Figure;
  /** 100 × (1 − keyed / unkeyed), medians. Target ≤ 10. */
  overheadPct: number;
  /** Callback sent for the slot's holder → the next task reaches the provider. Target p50 ≤ 20 ms. */
  handOverMs: Latency;
  lost: number;
};

/** Why these sizes: a burst long enough to fill the pump several times, short enough for quick mode. */
const BURST = { quick: 1000, full: 3000 };
const HAND_OVERS = { quick: 30, full: 100 };
/** Why 120 s: far beyond a burst's drain; a task not completed by then counts as lost. */
const DRAIN_TIMEOUT_MS = 120_000;
/** Why 20 ms: a provider job short enough that the hand-over, not the job, dominates the cycle. */
const JOB_MS = 20;
/** Why far above the burst: the key must never bind, so only the gate and hand-over cost shows. */
const NON_BINDING_CONCURRENCY = 10_000;

type Provider = {
  url: string;
  arrivals: Map<string, number>;
  callbacksSent: Map<string, number>;
  stop(): Promise<void>;
};

/** Loopback provider: /ok answers 200; /job answers 200 and POSTs the callback JOB_MS later. */
async function startProvider(): Promise<Provider> {
  const arrivals = new Map<string, number>();
  const callbacksSent = new Map<string, number>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const taskId = String(req.headers['x-asyncqueue-task-id'] ?? '');
    arrivals.set(taskId, nowMs());
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    if (!req.url?.startsWith('/job')) return;
    const { callback } = JSON.parse(Buffer.concat(chunks).toString()) as { callback: string };
    await sleep(JOB_MS);
    callbacksSent.set(taskId, nowMs());
    await fetch(callback, { method: 'POST', body: '{"status":"done"}' }).then(
      (r) => r.text(),
      () => '',
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    callbacksSent,
    stop: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Api = (method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }>;

function apiOf(pool: Pool, apiKey: string): Api {
  return async (method, path, body) => {
    const res = await pool.request({
      path,
      method: method as 'GET',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? JSON.parse(text) : null };
  };
}

/** Creates `count` direct tasks (`concurrency` at a time) and waits for all: tasks/s end to end. */
async function burst(
  api: Api,
  counter: Counter,
  target: string,
  flowKey: string | null,
  count: number,
  concurrency: number,
) {
  const before = await counter.scalar(`select count(*) from tasks where status = 'completed'`);
  const firstSend = Date.now();
  let next = 0;
  const client = async () => {
    while (next < count) {
      next += 1;
      const res = await api('POST', '/v1/tasks', { targetUrl: `${target}/ok`, body: '{}', flowKey });
      if (res.status !== 201) throw new Error(`create answered ${res.status}: ${JSON.stringify(res.json)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  let done = 0;
  let lastMs = Date.now();
  while (Date.now() < deadline) {
    const { rows } = await counter.query<{ n: string; last_ms: string }>(
      `select count(*) as n, extract(epoch from max(completed_at)) * 1000 as last_ms from tasks where status = 'completed'`,
    );
    done = Number(rows[0]?.n) - before;
    lastMs = Number(rows[0]?.last_ms);
    if (done >= count) break;
    await sleep(50);
  }
  return { tasksPerSecond: done / ((lastMs - firstSend) / 1000), lost: count - done };
}

/** Tasks on a key of concurrency 1: each freed slot's next dispatch, measured at the provider. */
async function handOvers(api: Api, provider: Provider, samples: number): Promise<Latency> {
  await api('PUT', '/v1/flow-keys/hand-over', { concurrency: 1 });
  const ids: string[] = [];
  for (let i = 0; i < samples + 1; i += 1) {
    const res = await api('POST', '/v1/tasks', {
      targetUrl: `${provider.url}/job`,
      body: '{"callback":"{asyncqueue_callback_url}"}',
      flowKey: 'hand-over',
    });
    ids.push(res.json.task.id);
  }
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  while (ids.some((id) => !provider.callbacksSent.has(id)) && Date.now() < deadline) await sleep(50);
  // The order the key ran them in (priority, then creation): each one's start follows the previous one's end.
  const order = ids
    .filter((id) => provider.arrivals.has(id))
    .sort((a, b) => provider.arrivals.get(a)! - provider.arrivals.get(b)!);
  const gaps: number[] = [];
  for (let i = 1; i < order.length; i += 1) {
    const freed = provider.callbacksSent.get(order[i - 1]!);
    if (freed !== undefined) gaps.push(provider.arrivals.get(order[i]!)! - freed);
  }
  return latency(gaps);
}

/**
 * Register in bench/run.ts (part `flow`): `results.flowControl = await runFlowControl(ctx)`.
 * Runs its own server and provider; nothing else needs to run.
 */
export function runFlowControl(ctx: Ctx): Promise<FlowControlResults> {
  return withFreshDatabase(ctx, 'flow_control', async (db) => {
    const server = await startServer({
      databaseUrl: db.url,
      poolSize: ctx.poolSize,
      role: 'all',
      logDir: ctx.logDir,
      name: 'flow_control',
      nodeArgs: ctx.serverNodeArgs,
    });
    const provider = await startProvider();
    const counter = await openCounter(db.url);
    const pool = new Pool(server.url, { connections: ctx.sizes.httpConcurrency + 4 });
    try {
      const api = apiOf(pool, server.apiKey);
      await api('PUT', '/v1/flow-keys/bench', { concurrency: NON_BINDING_CONCURRENCY });
      const size = ctx.quick ? BURST.quick : BURST.full;
      let lost = 0;
      const run = (flowKey: string | null) => async () => {
        const r = await burst(api, counter, provider.url, flowKey, size, ctx.sizes.httpConcurrency);
        lost += r.lost;
        return r.tasksPerSecond;
      };
      const unkeyed = await measured(ctx, 'flow control: e2e without a key', 'tasks/s', run(null), run(null));
      const keyed = await measured(
        ctx,
        'flow control: e2e on a non-binding key',
        'tasks/s',
        run('bench'),
        run('bench'),
      );
      const handOverMs = await handOvers(api, provider, ctx.quick ? HAND_OVERS.quick : HAND_OVERS.full);
      ctx.progress(`flow control: hand-over p50 ${handOverMs.p50.toFixed(1)} ms, p99 ${handOverMs.p99.toFixed(1)} ms`);
      const overheadPct = 100 * (1 - keyed.median / unkeyed.median);
      return { unkeyed, keyed, overheadPct, handOverMs, lost };
    } finally {
      await pool.close().catch(() => {});
      await counter.close();
      await provider.stop();
      await server.stop();
    }
  });
}
