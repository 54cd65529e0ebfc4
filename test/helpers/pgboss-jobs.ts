import pg from 'pg';

/** A row of pg-boss's job table (pg-boss 12: `pgboss.job`, partitioned by queue name). */
export type JobRow = {
  id: string;
  name: string;
  state: 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';
  startAfter: Date;
  createdOn: Date;
  data: Record<string, unknown>;
};

/** The states of a job that has not run yet (pg-boss still holds it back until start_after). */
const QUEUED = ['created', 'retry'];

/**
 * Direct SQL on an app's database, for what the API does not show: which jobs are queued and when
 * they are due. `makeDue` BACKDATES a delayed job so a test skips a long delay instead of sleeping
 * (workers poll every 1 s, so the job runs within about a second).
 */
export async function openAppDb(databaseUrl: string) {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'aq-test-probe' });
  await client.connect();
  const jobs = async (queue: string, taskId: string): Promise<JobRow[]> => {
    const { rows } = await client.query(
      `select id, name, state::text as state, start_after as "startAfter", created_on as "createdOn", data
       from pgboss.job where name = $1 and data->>'taskId' = $2 order by created_on, id`,
      [queue, taskId],
    );
    return rows as JobRow[];
  };
  return {
    client,
    jobs,
    /** Jobs of `queue` for the task that have not run yet. */
    queued: async (queue: string, taskId: string) =>
      (await jobs(queue, taskId)).filter((j) => QUEUED.includes(j.state)),
    /** Makes the task's queued jobs of `queue` due now; returns how many it moved. */
    async makeDue(queue: string, taskId: string): Promise<number> {
      const res = await client.query(
        `update pgboss.job set start_after = now()
         where name = $1 and data->>'taskId' = $2 and state in ('created', 'retry')`,
        [queue, taskId],
      );
      return res.rowCount ?? 0;
    },
    /** A task row's JSON columns, read without going through the API (no rate limit, no masking). */
    async taskRow(taskId: string): Promise<{ status: string; attempts: any[]; webhookDeliveries: any[] }> {
      const { rows } = await client.query(
        'select status, attempts, webhook_deliveries as "webhookDeliveries" from tasks where id = $1',
        [taskId],
      );
      if (!rows[0]) throw new Error(`no task ${taskId}`);
      return rows[0];
    },
    close: () => client.end(),
  };
}

export type AppDb = Awaited<ReturnType<typeof openAppDb>>;
