import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchServer, forkLoad, killAllChildren, type LoadProcess, startServer } from '../lib/children.ts';
import { type Ctx, FULL, QUICK, withFreshDatabase } from '../lib/context.ts';
import { type Counter, openCounter, startBenchPostgres } from '../lib/postgres.ts';
import { type Latency, sleep, waitFor } from '../lib/stats.ts';

/** Connections and memory of the server while `subscribers` are held open one way or the other. */
type Held = { opened: number; connections: number; connectionsByApp: Record<string, number>; rssMb: number };

export type EventsResults = {
  subscribers: number;
  /** At rest, before either kind of subscriber: the server's database connections and VmRSS (MB). */
  idle: { connections: number; rssMb: number };
  longPolls: Held;
  sse: Held;
  /** Time from a cancel's request to its event on every one of the SSE streams (ms), per sample. */
  fanOut: { samples: { reached: number; of: number; latencyMs: Latency }[] };
  /** Everything the server may open: two pools, the side pool and two LISTEN clients. */
  connectionBudget: number;
};

const SAMPLES = 5;
/** Why 3 minutes: creating and parking 1,000 tasks in `waiting` takes seconds here. */
const WAITING_TIMEOUT_MS = 180_000;
/** Why 30 s: a change reaches 1,000 local streams in well under a second; this only catches a hang. */
const FAN_OUT_TIMEOUT_MS = 30_000;
const FAN_OUT_CHANGES = 5;

/**
 * Live events at scale: the same number of subscribers held as GET /v1/tasks/{id}?wait=25
 * long-polls, then as GET /v1/events streams, and the server's database connections
 * (pg_stat_activity) and memory with each; then how long one change takes to reach every stream.
 * Standalone: `node bench/phases/events.ts [--quick]` (DATABASE_URL or an embedded PostgreSQL).
 */
export function runEvents(ctx: Ctx): Promise<EventsResults> {
  return withFreshDatabase(ctx, 'events', async (db) => {
    const subscribers = ctx.sizes.longPolls;
    const server = await startServer({
      databaseUrl: db.url,
      poolSize: ctx.poolSize,
      logDir: ctx.logDir,
      name: 'events',
      nodeArgs: ctx.serverNodeArgs,
      // The per-team default (500) would refuse half of one team's 1,000 streams.
      env: { ASYNCQUEUE_EVENTS_MAX_STREAMS_PER_TEAM: String(subscribers), LOG_LEVEL: 'warn' },
    });
    const client = forkLoad('client.ts');
    const events = forkLoad('events-client.ts');
    const counter = await openCounter(db.url);
    try {
      await client.rpc.call('init', { serverUrl: server.url, apiKey: server.apiKey, connections: 40 });
      await parkWaitingTasks(ctx, client, counter, subscribers);
      await sleep(1_000);
      const idle = { connections: (await connectionsOf(counter, db.name)).total, rssMb: (await server.rssMb()).rss };
      ctx.progress(`events: at rest ${idle.connections} connections, RSS ${idle.rssMb.toFixed(0)} MB`);
      const longPolls = await holdLongPolls(client, server, counter, db.name, subscribers);
      ctx.progress(`events: ${longPolls.opened} long-polls: ${JSON.stringify(longPolls)}`);
      const opened = await events.rpc.call<{ opened: number; failed: number }>(
        'open',
        { serverUrl: server.url, apiKey: server.apiKey, count: subscribers },
        120_000,
      );
      const sse = { opened: opened.opened, ...(await sample(server, counter, db.name)) };
      ctx.progress(`events: ${sse.opened} SSE streams (${opened.failed} failed): ${JSON.stringify(sse)}`);
      const fanOut = { samples: [] as EventsResults['fanOut']['samples'] };
      for (let i = 0; i < FAN_OUT_CHANGES; i += 1) fanOut.samples.push(await oneChange(server, events, i));
      ctx.progress(`events: fan-out ${JSON.stringify(fanOut.samples.map((s) => s.latencyMs))}`);
      await events.rpc.call('close', {});
      return { subscribers, idle, longPolls, sse, fanOut, connectionBudget: server.connectionBudget };
    } finally {
      await counter.close();
      await client.rpc.call('close', {}, 10_000).catch(() => {});
      await client.stop();
      await events.stop();
      await server.stop();
    }
  });
}

/** `count` waitForSignal tasks, parked in `waiting`: what the long-polls wait on. */
async function parkWaitingTasks(ctx: Ctx, client: LoadProcess, counter: Counter, count: number): Promise<void> {
  const batch = await client.rpc.call<{ created: number }>('createBatch', { count, concurrency: 32, kind: 'waiting' });
  await waitFor(
    'tasks to reach waiting',
    async () =>
      (await counter.scalar(`select count(*) from tasks where status = 'waiting'`)) >= batch.created || undefined,
    WAITING_TIMEOUT_MS,
    200,
  );
  ctx.progress(`events: ${batch.created} tasks waiting`);
}

async function holdLongPolls(
  client: LoadProcess,
  server: BenchServer,
  counter: Counter,
  database: string,
  count: number,
): Promise<Held> {
  const open = client.rpc.nextNote<{ opened: number }>('longpolls-open', 120_000);
  const held = client.rpc.call<{ opened: number }>('longPolls', { count, settleMs: 2_000 });
  const { opened } = await open;
  const figures = await sample(server, counter, database);
  client.rpc.note('release');
  await held;
  return { opened, ...figures };
}

/** The most connections and memory seen over a few samples. */
async function sample(server: BenchServer, counter: Counter, database: string) {
  let rssMb = 0;
  let best = { total: 0, byApp: {} as Record<string, number> };
  for (let i = 0; i < SAMPLES; i += 1) {
    rssMb = Math.max(rssMb, (await server.rssMb()).rss);
    const now = await connectionsOf(counter, database);
    if (now.total >= best.total) best = now;
    await sleep(200);
  }
  return { connections: best.total, connectionsByApp: best.byApp, rssMb };
}

async function connectionsOf(counter: Counter, database: string) {
  const { rows } = await counter.query<{ app: string; n: string }>(
    `select coalesce(nullif(application_name, ''), '?') as app, count(*) as n from pg_stat_activity
     where datname = $1 and backend_type = 'client backend' and application_name <> 'asyncqueue-bench'
     group by 1`,
    [database],
  );
  const byApp = Object.fromEntries(rows.map((r) => [r.app, Number(r.n)]));
  return { total: Object.values(byApp).reduce((a, b) => a + b, 0), byApp };
}

/** Creates a delayed task, cancels it, and waits until every stream has the cancel. */
async function oneChange(server: BenchServer, events: LoadProcess, n: number) {
  const headers = { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' };
  const created = await fetch(`${server.url}/v1/tasks`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      targetUrl: `https://example.com/fan-out/${n}`,
      delayUntil: new Date(Date.now() + 3_600_000).toISOString(),
    }),
  });
  const { task } = (await created.json()) as { task: { id: string } };
  await sleep(500);
  const sentAt = Date.now();
  await (await fetch(`${server.url}/v1/tasks/${task.id}/cancel`, { method: 'POST', headers })).arrayBuffer();
  return events.rpc.call<EventsResults['fanOut']['samples'][number]>('reached', {
    taskId: task.id,
    status: 'cancelled',
    sentAt,
    timeoutMs: FAN_OUT_TIMEOUT_MS,
  });
}

/** `node bench/phases/events.ts [--quick]`: this phase alone, its figures printed as JSON. */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const started = Date.now();
  const progress = (message: string) =>
    process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}\n`);
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'aq-bench-events-'));
  const pg = await startBenchPostgres(process.env.DATABASE_URL, progress);
  try {
    const ctx: Ctx = { quick, sizes: quick ? QUICK : FULL, pg, poolSize: 10, logDir, serverNodeArgs: [], progress };
    const results = await runEvents(ctx);
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } finally {
    killAllChildren();
    await pg.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
