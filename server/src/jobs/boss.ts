import { PgBoss } from 'pg-boss';
import { QUEUE_NAMES, queueOptions } from './queues.ts';

export type BossOptions = {
  url: string;
  poolSize: number;
  takeoverSeconds: number;
  onError: (error: Error) => void;
};

/** Why: pg-boss keeps its tables apart from ours, so a `DROP SCHEMA pgboss` never touches tasks. */
export const BOSS_SCHEMA = 'pgboss';

/** Starts pg-boss on our database and makes sure every queue of the design exists. */
export async function startBoss(opts: BossOptions): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: opts.url,
    schema: BOSS_SCHEMA,
    max: opts.poolSize,
    application_name: 'asyncqueue-boss',
    useListenNotify: true,
    // Why: monitor often enough that a dead worker's heartbeat lapse is noticed well inside the window.
    superviseIntervalSeconds: Math.max(1, Math.floor(opts.takeoverSeconds / 6)),
    monitorIntervalSeconds: Math.max(1, Math.floor(opts.takeoverSeconds / 6)),
    instanceName: 'asyncqueue',
  });
  boss.on('error', opts.onError);
  await boss.start();
  const existing = new Map((await boss.getQueues()).map((q) => [q.name, q]));
  for (const name of QUEUE_NAMES) {
    const notify = queueOptions(name, opts.takeoverSeconds).notify;
    const queue = existing.get(name);
    // A database created by an earlier version keeps its queue settings: bring notify in line.
    if (queue && queue.notify !== notify) await boss.updateQueue(name, { notify });
    if (!queue) {
      await boss.createQueue(name, queueOptions(name, opts.takeoverSeconds)).catch(async (error: unknown) => {
        // Two instances starting together may both try; the loser sees the queue already there.
        if (!(await boss.getQueue(name))) throw error;
      });
    }
  }
  return boss;
}
