/**
 * Load generator of the AsyncQueue phases: an AsyncQueue client, a loopback provider and a webhook receiver in one
 * process (separate from the server), driven over IPC by bench/run.ts. Every scenario reports raw
 * counts and times; the orchestrator checks them against the database.
 */
import { Pool } from 'undici';
import { serveRpc } from '../lib/rpc.ts';
import { latency, nowMs, sleep } from '../lib/stats.ts';
import { type Endpoints, startEndpoints } from './fake-endpoints.ts';

type TaskKind = 'direct' | 'webhook' | 'callback' | 'waiting' | 'hold';

let endpoints: Endpoints;
let api: Pool;
let serverUrl = '';
let apiKey = '';
let lastBatchIds: string[] = [];

const jsonHeaders = () => ({ authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' });

/** A typical AI-provider call: JSON body, an auth header (masked in responses). */
function taskBody(kind: TaskKind, sample?: string): Record<string, unknown> {
  const base = {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sk-bench-0123456789' },
    body: JSON.stringify({ prompt: 'a watercolor fox in the snow', steps: 30, seed: 42 }),
  };
  const provider = endpoints.url;
  switch (kind) {
    case 'direct':
      return { ...base, targetUrl: `${provider}/ok${sample ? `?s=${sample}` : ''}` };
    case 'webhook':
      return { ...base, targetUrl: `${provider}/ok`, onCompleteUrl: `${provider}/webhook` };
    case 'callback':
      return {
        ...base,
        targetUrl: `${provider}/cb?u={asyncqueue_callback_url}`,
        onCompleteUrl: `${provider}/webhook`,
      };
    case 'hold':
      return { ...base, targetUrl: `${provider}/hold?u={asyncqueue_callback_url}` };
    case 'waiting':
      return { ...base, targetUrl: `${provider}/ok`, waitForSignal: true, maxWaitTime: 3600 };
  }
}

async function post(path: string, body: unknown): Promise<{ status: number; json: any }> {
  const res = await api.request({ path, method: 'POST', headers: jsonHeaders(), body: JSON.stringify(body) });
  const text = await res.body.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.statusCode, json };
}

async function getTask(id: string, wait?: number): Promise<any> {
  const res = await api.request({
    path: `/v1/tasks/${id}${wait ? `?wait=${wait}` : ''}`,
    method: 'GET',
    headers: jsonHeaders(),
  });
  return res.body.json();
}

/** Task id of a create answer, over REST ({task}) or tRPC ({result: {data: {task}}}). */
function createdTask(json: any): { id: string; callbackUrl?: string } | null {
  const body = json?.result?.data ?? json;
  return body?.task?.id ? { id: body.task.id, callbackUrl: body.callbackUrl } : null;
}

async function init(args: { serverUrl: string; apiKey: string; connections: number }) {
  endpoints ??= await startEndpoints();
  serverUrl = args.serverUrl;
  apiKey = args.apiKey;
  await api?.close();
  api = new Pool(serverUrl, { connections: args.connections, keepAliveTimeout: 60_000 });
  return { providerUrl: endpoints.url };
}

/** Closed loop for `durationMs`: `concurrency` clients each create one task after another. */
async function createLoad(args: { path: string; concurrency: number; durationMs: number }) {
  const body = taskBody('direct');
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let ok = 0;
  const started = nowMs();
  const deadline = started + args.durationMs;
  const client = async () => {
    while (nowMs() < deadline) {
      const t0 = nowMs();
      try {
        const res = await post(args.path, body);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 200 && res.status < 300) ok += 1;
      } catch (error) {
        const key = `error:${(error as Error).message.slice(0, 60)}`;
        statuses[key] = (statuses[key] ?? 0) + 1;
      }
      latencies.push(nowMs() - t0);
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, client));
  return { ok, statuses, elapsedMs: nowMs() - started, latencyMs: latency(latencies) };
}

/**
 * Creates tasks of one kind as fast as `concurrency` clients can: `count` of them, or as many as
 * fit in `durationMs`. Keeps their ids (for the long-polls of the footprint scenario).
 */
async function createBatch(args: { count?: number; durationMs?: number; concurrency: number; kind: TaskKind }) {
  const body = taskBody(args.kind);
  const ids: string[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  const firstSendAt = nowMs();
  const deadline = args.durationMs === undefined ? Number.POSITIVE_INFINITY : firstSendAt + args.durationMs;
  const limit = args.count ?? Number.POSITIVE_INFINITY;
  const client = async () => {
    while (next < limit && nowMs() < deadline) {
      next += 1;
      try {
        const res = await post('/v1/tasks', body);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        const task = createdTask(res.json);
        if (task) ids.push(task.id);
      } catch (error) {
        const key = `error:${(error as Error).message.slice(0, 60)}`;
        statuses[key] = (statuses[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, client));
  lastBatchIds = ids;
  return { created: ids.length, statuses, firstSendAt, lastResponseAt: nowMs() };
}

/** One task at a time: create-request send → the provider receives the dispatch. */
async function pickup(args: { samples: number; warmup: number; gapMs: number }) {
  const results: number[] = [];
  const marks: { start: number; end: number }[] = [];
  const tag = Math.random().toString(36).slice(2, 8);
  for (let i = 0; i < args.warmup + args.samples; i += 1) {
    const sample = `${tag}-${i}`;
    const arrived = endpoints.arrival(sample);
    const t0 = nowMs();
    const res = await post('/v1/tasks', taskBody('direct', sample));
    if (res.status !== 201) throw new Error(`create answered ${res.status}: ${JSON.stringify(res.json)}`);
    const at = await Promise.race([arrived, sleep(30_000).then(() => Number.NaN)]);
    if (Number.isNaN(at)) throw new Error(`sample ${sample} never reached the provider`);
    if (i >= args.warmup) {
      results.push(at - t0);
      marks.push({ start: t0, end: at });
    }
    await sleep(args.gapMs);
  }
  return { samplesMs: results, latencyMs: latency(results), marks };
}

/** A waiting task, an open long-poll, then the callback: callback send → long-poll answer. */
async function wake(args: { samples: number; warmup: number; settleMs: number }) {
  const results: number[] = [];
  const marks: { start: number; end: number }[] = [];
  for (let i = 0; i < args.warmup + args.samples; i += 1) {
    const res = await post('/v1/tasks', taskBody('hold'));
    const task = createdTask(res.json);
    if (!task?.callbackUrl) throw new Error(`create answered ${res.status}: ${JSON.stringify(res.json)}`);
    const deadline = Date.now() + 30_000;
    while ((await getTask(task.id)).task.status !== 'waiting') {
      if (Date.now() > deadline) throw new Error(`task ${task.id} never reached waiting`);
      await sleep(10);
    }
    let answeredAt = 0;
    const poll = getTask(task.id, 25).then((body) => {
      answeredAt = nowMs();
      return body;
    });
    // The long-poll must be registered in the server before the callback goes out.
    await sleep(args.settleMs);
    if (answeredAt !== 0) throw new Error('long-poll answered before the callback');
    const callback = new URL(task.callbackUrl);
    const t0 = nowMs();
    const cb = api.request({
      path: callback.pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"status":"done"}',
    });
    const polled = await poll;
    await (await cb).body.text();
    if (polled.task.status !== 'completed') throw new Error(`long-poll answered ${polled.task.status}`);
    if (i >= args.warmup) {
      results.push(answeredAt - t0);
      marks.push({ start: t0, end: answeredAt });
    }
  }
  return { samplesMs: results, latencyMs: latency(results), marks };
}

/**
 * Opens `count` long-polls on tasks of the last batch, tells the orchestrator (note
 * "longpolls-open"), holds them until it answers "release", then closes them.
 */
async function longPolls(args: { count: number; settleMs: number }) {
  const ids = lastBatchIds.slice(0, args.count);
  const pool = new Pool(serverUrl, { connections: ids.length + 10, headersTimeout: 60_000 });
  const controller = new AbortController();
  let answeredEarly = 0;
  let released = false;
  const polls = ids.map((id) =>
    pool
      .request({
        path: `/v1/tasks/${id}?wait=25`,
        method: 'GET',
        headers: jsonHeaders(),
        signal: controller.signal,
      })
      .then(async (res) => {
        await res.body.text();
        if (!released) answeredEarly += 1;
      })
      .catch(() => {}),
  );
  await sleep(args.settleMs);
  rpc.note('longpolls-open', { opened: ids.length, answeredEarly });
  await rpc.nextNote('release');
  released = true;
  controller.abort();
  await Promise.all(polls);
  await pool.destroy();
  return { opened: ids.length, answeredEarly };
}

const rpc = serveRpc({
  init,
  createLoad,
  createBatch,
  pickup,
  wake,
  longPolls,
  webhooks: async () => endpoints.webhooks(),
  callbacks: async () => endpoints.callbacks(),
  reset: async () => endpoints.resetCounters(),
  close: async () => {
    await api?.close();
    await endpoints?.close();
    return null;
  },
});
