import type { Ctx } from '../lib/context.ts';
import { sleep, waitFor } from '../lib/stats.ts';
import { withSession } from './aq-session.ts';

export type FootprintResults = {
  waitingTasks: number;
  longPolls: number;
  longPollsAnsweredEarly: number;
  /** Server VmRSS (MB) with the waiting tasks and the long-polls open (max of the samples). */
  rssMb: number;
  /** Server VmRSS (MB) with the waiting tasks, before the long-polls. */
  rssBeforeLongPollsMb: number;
  /** Server VmHWM (MB): the peak of the whole phase, task creation included. */
  peakRssMb: number;
  /** Database connections of the server with the long-polls open (max of the samples). */
  connections: number;
  connectionsBeforeLongPolls: number;
  connectionsByApp: Record<string, number>;
  /** ASYNCQUEUE_DB_POOL_SIZE, and everything the server may open (2 pools + side pool + 2 LISTEN). */
  poolSize: number;
  connectionBudget: number;
  /** Wall time to create the waiting tasks and see them all reach `waiting`, and server CPU per task. */
  fillSeconds: number;
  cpuMsPerTask: number;
  lost: number;
};

/** Why 3 minutes: creating and dispatching 10,000 tasks takes well under a minute here. */
const WAITING_TIMEOUT_MS = 180_000;
const SAMPLES = 5;

/**
 * Memory and connections at rest under load: `waitingTasks` tasks parked in `waiting`
 * (waitForSignal, target /ok), then `longPolls` long-polls held open on them.
 */
export function runFootprint(ctx: Ctx): Promise<FootprintResults> {
  return withSession(ctx, 'footprint', 'all', async ({ db, server, client, counter }) => {
    const { waitingTasks, longPolls, httpConcurrency } = ctx.sizes;
    const fillStarted = Date.now();
    const cpuBefore = await server.cpuSeconds();
    const batch = await client.rpc.call<{ created: number }>('createBatch', {
      count: waitingTasks,
      concurrency: httpConcurrency,
      kind: 'waiting',
    });
    ctx.progress(`footprint: ${batch.created} tasks created; waiting for them to reach "waiting"`);
    let waiting = 0;
    await waitFor(
      'tasks to reach waiting',
      async () => {
        waiting = await counter.scalar(`select count(*) from tasks where status = 'waiting'`);
        return waiting >= batch.created ? true : undefined;
      },
      WAITING_TIMEOUT_MS,
      200,
    ).catch(() => {});
    const fillSeconds = (Date.now() - fillStarted) / 1000;
    const cpuMsPerTask = (((await server.cpuSeconds()) - cpuBefore) * 1000) / Math.max(1, batch.created);
    const connectionsNow = async () => {
      const { rows } = await counter.query<{ app: string; n: string }>(
        `select coalesce(nullif(application_name, ''), '?') as app, count(*) as n from pg_stat_activity
         where datname = $1 and backend_type = 'client backend' and application_name <> 'asyncqueue-bench'
         group by 1`,
        [db.name],
      );
      const byApp = Object.fromEntries(rows.map((r) => [r.app, Number(r.n)]));
      return { total: Object.values(byApp).reduce((a, b) => a + b, 0), byApp };
    };
    await sleep(1_000);
    const before = { rss: (await server.rssMb()).rss, conns: (await connectionsNow()).total };
    ctx.progress(`footprint: ${waiting} waiting; RSS ${before.rss.toFixed(0)} MB, ${before.conns} connections`);

    const open = client.rpc.nextNote<{ opened: number; answeredEarly: number }>('longpolls-open', 120_000);
    const held = client.rpc.call<{ opened: number; answeredEarly: number }>('longPolls', {
      count: longPolls,
      settleMs: 2_000,
    });
    await open;
    let rss = 0;
    let conns = { total: 0, byApp: {} as Record<string, number> };
    for (let i = 0; i < SAMPLES; i += 1) {
      rss = Math.max(rss, (await server.rssMb()).rss);
      const c = await connectionsNow();
      if (c.total >= conns.total) conns = c;
      await sleep(200);
    }
    const peak = (await server.rssMb()).hwm;
    client.rpc.note('release');
    const result = await held;
    ctx.progress(
      `footprint: ${result.opened} long-polls open: RSS ${rss.toFixed(0)} MB (peak ${peak.toFixed(0)}), ` +
        `${conns.total} connections ${JSON.stringify(conns.byApp)}`,
    );
    return {
      waitingTasks: waiting,
      longPolls: result.opened,
      longPollsAnsweredEarly: result.answeredEarly,
      rssMb: rss,
      rssBeforeLongPollsMb: before.rss,
      peakRssMb: peak,
      connections: conns.total,
      connectionsBeforeLongPolls: before.conns,
      connectionsByApp: conns.byApp,
      poolSize: server.poolSize,
      connectionBudget: server.connectionBudget,
      fillSeconds,
      cpuMsPerTask,
      lost: batch.created - waiting,
    };
  });
}
