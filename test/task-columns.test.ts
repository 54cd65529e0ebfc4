import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../server/src/auth/secret-box.ts';
import { createTeam } from '../server/src/auth/teams.ts';
import { openOrm, runMigrations } from '../server/src/db/database.ts';
import { type Task, TaskSchema } from '../server/src/db/entities/task.ts';
import { taskInsert, taskInsertMany } from '../server/src/tasks/store/insert.ts';
import { taskFromRow } from '../server/src/tasks/task-columns.ts';
import { createTaskInputSchema } from '../server/src/tasks/task-input-schema.ts';
import { buildTaskRow } from '../server/src/tasks/task-row.ts';
import { createTestDatabase } from './helpers/test-database.ts';

/**
 * The hand-built task INSERT and row mapping of the hot paths (task-columns.ts) against the ORM's
 * own: every column written and read back the same, on a real PostgreSQL.
 */
let orm: MikroORM;
let teamId: string;

beforeAll(async () => {
  const url = await createTestDatabase();
  orm = await openOrm(url, 2);
  await runMigrations(orm, url);
  teamId = (await createTeam(orm.em.fork(), 'columns', createSecretBox(randomBytes(32)))).id;
});
afterAll(async () => {
  await orm?.close(true);
});

const plain = (task: Task) => JSON.parse(JSON.stringify(task)) as Record<string, unknown>;

describe('task columns', () => {
  it.each([
    ['a minimal direct task', { targetUrl: 'https://example.com/run' }],
    [
      'a task with every optional field',
      {
        targetUrl: 'https://example.com/run?x=1',
        method: 'PUT',
        headers: { Authorization: 'Bearer sk-1', 'X-Unicode': 'é ✓' },
        body: '{"prompt":"a cat"}',
        timeout: 90,
        maxRetries: 5,
        retryBackoff: 'linear',
        delayUntil: new Date(Date.now() + 3_600_000).toISOString(),
        priority: 7,
        waitForSignal: true,
        maxWaitTime: 600,
        onCompleteUrl: 'https://example.com/done',
        pollConfig: {
          urlTemplate: 'https://example.com/s/{{id}}',
          interval: 5,
          maxDuration: 300,
          statusPath: 'status',
          doneValues: ['done'],
          failValues: ['error'],
        },
      },
    ],
  ])('writes and reads back %s exactly as the ORM maps it', async (_name, body) => {
    const parsed = createTaskInputSchema.safeParse(body);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    const { row } = buildTaskRow(teamId, parsed.data!, {
      providerBaseUrls: {},
      idempotencyKey: 'k-1',
      now: new Date(),
      secretBox: createSecretBox(randomBytes(32)),
    });
    const em = orm.em.fork();
    const insert = taskInsert(row, 1);
    await em.getKysely().executeQuery({
      sql: insert.sql,
      parameters: insert.params,
      query: { kind: 'RawNode' },
      queryId: { queryId: 'test' },
    } as never);
    const [raw] = await em.execute<Record<string, unknown>[]>('select * from tasks where id = ?', [row.id]);
    const ours = taskFromRow(raw!);
    expect(plain(ours)).toEqual(plain(em.map(TaskSchema, raw!) as Task));
    expect(plain(ours)).toEqual(plain(row));
    expect(ours.createdAt).toBeInstanceOf(Date);
  });

  const awkward = 'a "quoted" \\ back\\slash, {brace} NULL é ✓ \'single\'';
  const differing = [
    { targetUrl: 'https://example.com/a' },
    {
      targetUrl: 'https://example.com/b?q="x"',
      method: 'PATCH',
      headers: { 'X-Awkward': awkward, Authorization: 'NULL' },
      body: awkward,
      delayUntil: new Date(Date.now() + 60_000).toISOString(),
      waitForSignal: true,
      flowKey: 'key-1',
    },
    { targetUrl: 'https://example.com/c', body: 'NULL', headers: { Empty: '' } },
  ];
  // Every column but the ids the same in every row: each goes as one value, not an array.
  const shared = Array.from({ length: 3 }, () => ({
    targetUrl: 'https://example.com/b?q="x"',
    headers: { 'X-Awkward': awkward, Authorization: 'NULL' },
    body: awkward,
    delayUntil: new Date(Date.now() + 60_000).toISOString(),
    flowKey: 'key-1',
  }));

  it.each([
    ['rows that differ (column arrays)', differing, null],
    // Only the task's and its dispatch job's ids go as arrays.
    ['rows that share every value but their ids (single values)', shared, 2],
  ])('writes many rows in one statement, %s, exactly as the one-row INSERT writes each', async (_, bodies, arrays) => {
    const box = createSecretBox(randomBytes(32));
    const now = new Date();
    const rows = bodies.map((body) => {
      const parsed = createTaskInputSchema.parse(body);
      return buildTaskRow(teamId, parsed, { providerBaseUrls: {}, idempotencyKey: null, now, secretBox: box }).row;
    });
    const em = orm.em.fork();
    const insert = taskInsertMany(rows, 1, 'id');
    if (arrays !== null) expect(insert.sql.match(/unnest\(/g)).toHaveLength(arrays);
    const returned = await em.getKysely().executeQuery({
      sql: insert.sql,
      parameters: insert.params,
      query: { kind: 'RawNode' },
      queryId: { queryId: 'test' },
    } as never);
    expect(returned.rows).toEqual(rows.map((r) => ({ id: r.id })));
    for (const row of rows) {
      const [raw] = await em.execute<Record<string, unknown>[]>('select * from tasks where id = ?', [row.id]);
      expect(plain(taskFromRow(raw!))).toEqual(plain(row));
    }
  });
});
