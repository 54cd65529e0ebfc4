import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { CREATED_TASK_KEYS, delayedTask, detailPaths, expectErrorBody, HEX_64 } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

// POST /v1/tasks/batch: per-item results in input order, invalid items answered with their own
// indexed paths, the valid ones created together (rows and dispatch jobs in one statement), one
// Idempotency-Key for the whole batch, and one rate-limit point per task.

let t: TestApp;
let team: TestTeam;
let db: pg.Client;

const batch = (key: string, body: unknown, headers?: Record<string, string>) =>
  api(t.url, 'POST', '/v1/tasks/batch', { key, body, ...(headers ? { headers } : {}) });

/** Rows of the team's tasks and their dispatch jobs, read directly. */
/** A batch of 20 delayed tasks, the one at `index` calling `url` (which a test trigger looks for). */
const twentyWithOne = (apiKey: string, index: number, url: string) => {
  const tasks = Array.from({ length: 20 }, (_, i) => delayedTask(i));
  tasks[index] = { ...delayedTask(index), targetUrl: url };
  return batch(apiKey, { tasks });
};

/** Runs `run` while a BEFORE INSERT trigger on tasks runs `body` (PL/pgSQL) for each row. */
async function withInsertTrigger(body: string, run: () => Promise<void>): Promise<void> {
  await db.query(`create or replace function aq_test_trigger() returns trigger language plpgsql as $$
    begin ${body} return new; end $$`);
  await db.query(
    'create trigger aq_test_trigger before insert on tasks for each row execute function aq_test_trigger()',
  );
  try {
    await run();
  } finally {
    await db.query('drop trigger aq_test_trigger on tasks');
  }
}

async function counts(teamId: string): Promise<{ tasks: number; jobs: number }> {
  const { rows } = await db.query(
    `select (select count(*)::int from tasks where team_id = $1) as tasks,
            (select count(*)::int from pgboss.job j join tasks k on k.id = (j.data->>'taskId')::uuid
              where j.name = 'dispatch' and k.team_id = $1) as jobs`,
    [teamId],
  );
  return rows[0];
}

const INVALID_AT = [3, 500, 999];

/** 1,000 delayed tasks (no worker touches them); three of them invalid in different ways. */
function thousandWithThreeInvalid(): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = Array.from({ length: 1000 }, (_, i) => delayedTask(i));
  items[3] = { ...delayedTask(3), targetUrl: 'ftp://example.com/x' };
  items[500] = { ...delayedTask(500), maxRetries: 99, colour: 'red' };
  items[999] = { ...delayedTask(999), headers: { Authorization: 'tok_nope' } };
  return items;
}

beforeAll(async () => {
  // Why: a batch of 1,000 counts 1,000 points; the limit itself is tested below on its own app.
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' });
  team = await t.newTeam();
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db.end();
  await t.stop();
});

describe('POST /v1/tasks/batch', () => {
  it('creates the 997 valid items of 1,000 and reports the 3 invalid ones with their indexes', async () => {
    const own = await t.newTeam();
    const res = await batch(own.apiKey, { tasks: thousandWithThreeInvalid() });
    expect(res.status, res.text).toBe(200);
    const results = res.body.results as any[];
    expect(results).toHaveLength(1000);
    for (const [i, result] of results.entries()) {
      if (INVALID_AT.includes(i)) {
        expect(Object.keys(result).sort()).toEqual(['code', 'details', 'error']);
        expect(result.code).toBe('validation_failed');
        for (const d of result.details) expect(d.path.startsWith(`tasks.${i}.`), d.path).toBe(true);
      } else {
        expect(Object.keys(result.task).sort()).toEqual(CREATED_TASK_KEYS);
        // In input order: each created task carries its own item's body.
        expect(result.task).toMatchObject({ status: 'delayed', body: JSON.stringify({ n: i }), replayOf: null });
      }
    }
    expect(results[3].details.map((d: any) => d.path)).toEqual(['tasks.3.targetUrl']);
    expect(results[500].details.map((d: any) => d.path).sort()).toEqual(['tasks.500.colour', 'tasks.500.maxRetries']);
    expect(results[999].details.map((d: any) => d.path)).toEqual(['tasks.999.headers.Authorization']);
    expect(await counts(own.teamId)).toEqual({ tasks: 997, jobs: 997 });
    const ids = new Set(results.filter((r) => r.task).map((r) => r.task.id));
    expect(ids.size).toBe(997);
    // Each job carries its task's priority and waits for its delayUntil, as a single create's does.
    const { rows: jobs } = await db.query(
      `select j.priority, j.start_after, k.delay_until from pgboss.job j join tasks k on k.id = (j.data->>'taskId')::uuid
       where j.name = 'dispatch' and k.team_id = $1`,
      [own.teamId],
    );
    for (const job of jobs) {
      expect(job.priority).toBe(5);
      expect(job.start_after.getTime()).toBe(job.delay_until.getTime());
    }
    // The rate limit counted one point per created task (the request's own point is the first).
    expect(Number(res.headers.get('x-ratelimit-remaining'))).toBe(100000 - 997);
  });

  it('answers the same batch with the same key from the stored results; another body under it → 409', async () => {
    const own = await t.newTeam();
    const key = randomUUID();
    const tasks = thousandWithThreeInvalid();
    const first = await batch(own.apiKey, { tasks }, { 'Idempotency-Key': key });
    expect(first.status, first.text).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    // Same items, keys in another order: the same request.
    const reordered = tasks.map((item) => Object.fromEntries(Object.entries(item).reverse()));
    const again = await batch(own.apiKey, { tasks: reordered }, { 'Idempotency-Key': key });
    expect(again.status, again.text).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await counts(own.teamId)).toEqual({ tasks: 997, jobs: 997 });

    const other = await batch(own.apiKey, { tasks: tasks.slice(1) }, { 'Idempotency-Key': key });
    expectErrorBody(other, 409, 'idempotency_conflict');
    expect(await counts(own.teamId)).toEqual({ tasks: 997, jobs: 997 });
  });

  it('two concurrent batches with one key create the tasks once', async () => {
    const own = await t.newTeam();
    const key = randomUUID();
    const tasks = Array.from({ length: 50 }, (_, i) => delayedTask(i));
    const [a, b] = await Promise.all([
      batch(own.apiKey, { tasks }, { 'Idempotency-Key': key }),
      batch(own.apiKey, { tasks }, { 'Idempotency-Key': key }),
    ]);
    for (const res of [a, b]) expect([200, 409], res.text).toContain(res.status);
    const ok = [a, b].filter((r) => r.status === 200);
    if (ok.length === 2) expect(ok[0]?.body).toEqual(ok[1]?.body);
    expect(await counts(own.teamId)).toEqual({ tasks: 50, jobs: 50 });
  });

  it('refuses a batch over 1,000 tasks, an empty one and a non-list whole (400), creating nothing', async () => {
    const own = await t.newTeam();
    const over = await batch(own.apiKey, { tasks: Array.from({ length: 1001 }, (_, i) => delayedTask(i)) });
    expectErrorBody(over, 400, 'validation_failed');
    expect(detailPaths(over)).toEqual(['tasks']);
    expectErrorBody(await batch(own.apiKey, { tasks: [] }), 400, 'validation_failed');
    expectErrorBody(await batch(own.apiKey, { tasks: 'x' }), 400, 'validation_failed');
    expectErrorBody(await batch(own.apiKey, { tasks: [delayedTask()], extra: 1 }), 400, 'validation_failed');
    expect(await counts(own.teamId)).toEqual({ tasks: 0, jobs: 0 });
  });

  it('answers each created item as a create does (credentials once) and refuses per-item keys', async () => {
    const res = await batch(team.apiKey, {
      tasks: [
        {
          targetUrl: 'https://example.com/a?cb={asyncqueue_callback_url}',
          waitForSignal: true,
          delayUntil: '2999-01-01T00:00:00.000Z',
        },
        { ...delayedTask(1), idempotencyKey: 'per-item' },
      ],
    });
    expect(res.status, res.text).toBe(200);
    const [created, refused] = res.body.results;
    expect(created.task.callbackId).toMatch(HEX_64);
    expect(created.callbackUrl).toBe(`${t.url}/v1/callbacks/${created.task.callbackId}`);
    expect(created.signalToken).toMatch(HEX_64);
    expect(refused.details.map((d: any) => d.path)).toEqual(['tasks.1.idempotencyKey']);
  });

  it('checks vault references per item: a live token passes, an unknown one is that item’s error', async () => {
    const token = await api(t.url, 'POST', '/v1/tokens', { key: team.apiKey, body: { name: 'k', value: 'sk-live' } });
    expect(token.status, token.text).toBe(201);
    const live = token.body.token.id as string;
    const unknown = `tok_${'A'.repeat(24)}`;
    const res = await batch(team.apiKey, {
      tasks: [
        { ...delayedTask(1), headers: { Authorization: live } },
        { ...delayedTask(2), headers: { 'X-Key': unknown, Authorization: live } },
        { ...delayedTask(3), headers: { Authorization: live } },
      ],
    });
    expect(res.status, res.text).toBe(200);
    const [a, b, c] = res.body.results;
    const { rows } = await db.query('select headers from tasks where id = $1', [a.task.id]);
    expect(rows[0].headers).toEqual({ Authorization: live });
    expect(b.details).toEqual([{ path: 'tasks.1.headers.X-Key', message: expect.stringContaining(unknown) }]);
    expect(c.task.status).toBe('delayed');
  });

  it('a batch whose statement fails creates nothing (no task, no job)', async () => {
    const own = await t.newTeam();
    // A trigger refusing one row makes the single INSERT of the batch fail inside PostgreSQL.
    await withInsertTrigger(
      "if new.target_url like '%refuse-me%' then raise exception 'refused by test'; end if;",
      async () => {
        const res = await twentyWithOne(own.apiKey, 10, 'https://example.com/refuse-me');
        expectErrorBody(res, 500, 'internal_error');
        expect(await counts(own.teamId)).toEqual({ tasks: 0, jobs: 0 });
      },
    );
  });

  it('a batch whose job pg-boss skips (its id exists) creates no task: the committed rows are taken back', async () => {
    const own = await t.newTeam();
    const first = await batch(own.apiKey, { tasks: [delayedTask(0)] });
    const { rows } = await db.query('select dispatch_job_id from tasks where id = $1', [first.body.results[0].task.id]);
    const taken = rows[0].dispatch_job_id as string;
    // One row of the batch gets the job id of the task above: pg-boss's ON CONFLICT skips its job.
    await withInsertTrigger(
      `if new.target_url like '%clash%' then new.dispatch_job_id := '${taken}'; end if;`,
      async () => {
        const res = await twentyWithOne(own.apiKey, 7, 'https://example.com/clash');
        expectErrorBody(res, 500, 'internal_error');
        expect(await counts(own.teamId)).toEqual({ tasks: 1, jobs: 1 });
      },
    );
  });
});

describe('POST /v1/tasks/batch and the rate limit', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '10' });
  });
  afterAll(() => limited.stop());

  it('counts each task; a batch bigger than what is left is refused whole and leaves the rest', async () => {
    const own = await limited.newTeam();
    const post = (n: number) =>
      api(limited.url, 'POST', '/v1/tasks/batch', {
        key: own.apiKey,
        body: { tasks: Array.from({ length: n }, (_, i) => delayedTask(i)) },
      });
    const eight = await post(8);
    expect(eight.status, eight.text).toBe(200);
    expect(eight.headers.get('x-ratelimit-remaining')).toBe('2');

    const five = await post(5);
    expectErrorBody(five, 429, 'rate_limited');
    expect(Number(five.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const probe = new pg.Client({ connectionString: limited.databaseUrl });
    await probe.connect();
    const { rows } = await probe.query('select count(*)::int as n from tasks where team_id = $1', [own.teamId]);
    await probe.end();
    expect(rows[0].n).toBe(8);

    // The refused batch took nothing but its own request's point: one request is still allowed.
    const single = await api(limited.url, 'POST', '/v1/tasks', { key: own.apiKey, body: delayedTask(99) });
    expect(single.status, single.text).toBe(201);
    const list = await api(limited.url, 'GET', '/v1/tasks?limit=100', { key: own.apiKey });
    expect(list.status).toBe(429);
  });
});
