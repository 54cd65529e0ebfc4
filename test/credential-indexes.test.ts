import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../server/src/auth/secret-box.ts';
import { createTeam } from '../server/src/auth/teams.ts';
import { openOrm, runMigrations } from '../server/src/db/database.ts';
import { execute } from '../server/src/db/prepared.ts';
import { taskInsert } from '../server/src/tasks/store/insert.ts';
import { createTaskInputSchema } from '../server/src/tasks/task-input-schema.ts';
import { buildTaskRow } from '../server/src/tasks/task-row.ts';
import { createTestDatabase } from './helpers/test-database.ts';

/**
 * The callback-id and signal-token hashes are unique where they exist, and tasks without them
 * (most tasks) write no entry into either index.
 */
let orm: MikroORM;
let teamId: string;
const box = createSecretBox(randomBytes(32));

beforeAll(async () => {
  const url = await createTestDatabase();
  orm = await openOrm(url, 2);
  await runMigrations(orm, url);
  teamId = (await createTeam(orm.em.fork(), 'credential-indexes', box)).id;
});
afterAll(async () => {
  await orm?.close(true);
});

/** Inserts a task row built from `body`, with `patch` applied to the row first. */
async function insertTask(body: Record<string, unknown>, patch: Record<string, unknown> = {}) {
  const built = buildTaskRow(teamId, createTaskInputSchema.parse(body), {
    providerBaseUrls: {},
    idempotencyKey: null,
    now: new Date(),
    secretBox: box,
  });
  const { sql, params } = taskInsert({ ...built.row, ...patch }, 1);
  await execute(orm.em.fork(), sql.replace(/\$\d+/g, '?'), params);
  return built.row;
}

describe('credential indexes', () => {
  it('refuses a second task with the same callback-id or signal-token hash', async () => {
    const first = await insertTask({ targetUrl: 'https://example.com/a', body: '{"cb":"{asyncqueue_callback_url}"}' });
    expect(first.callbackIdHash).toMatch(/^[0-9a-f]{64}$/);
    await expect(
      insertTask({ targetUrl: 'https://example.com/b' }, { callbackIdHash: first.callbackIdHash }),
    ).rejects.toThrow(/tasks_callback_id_hash_unique/);
    const signalled = await insertTask({ targetUrl: 'https://example.com/c', waitForSignal: true });
    await expect(
      insertTask({ targetUrl: 'https://example.com/d' }, { signalTokenHash: signalled.signalTokenHash }),
    ).rejects.toThrow(/tasks_signal_token_hash_unique/);
  });

  it('indexes only the tasks that have the credential, and looks them up by that index', async () => {
    for (let i = 0; i < 50; i++) await insertTask({ targetUrl: 'https://example.com/plain' });
    const em = orm.em.fork();
    const definitions = await execute<{ indexname: string; indexdef: string }>(
      em,
      "select indexname, indexdef from pg_indexes where tablename = 'tasks' and indexname like '%_unique'",
    );
    expect(definitions.map((d) => d.indexname).sort()).toEqual([
      'tasks_callback_id_hash_unique',
      'tasks_callback_id_unique',
      'tasks_signal_token_hash_unique',
    ]);
    for (const { indexdef } of definitions)
      expect(indexdef).toMatch(/^CREATE UNIQUE INDEX .* WHERE \(\w+ IS NOT NULL\)$/);
    // VACUUM counts each index's entries exactly: one per task with the credential, none for the
    // 50 plain tasks.
    await execute(em, 'vacuum tasks');
    const [counts] = await execute<{ tasks: number; with_hash: number; entries: number }>(
      em,
      `select (select count(*)::int from tasks) as tasks,
              (select count(*)::int from tasks where callback_id_hash is not null) as with_hash,
              (select reltuples::int from pg_class where relname = 'tasks_callback_id_hash_unique') as entries`,
    );
    expect(counts?.tasks).toBeGreaterThanOrEqual(52);
    expect(counts?.entries).toBe(counts?.with_hash);
    const plan = await em.transactional(async (tem) => {
      // The table is tiny: make the planner show which index serves the look-up.
      await execute(tem, 'set local enable_seqscan = off');
      return execute<{ 'QUERY PLAN': string }>(tem, "explain select id from tasks where callback_id_hash = 'x'");
    });
    expect(plan.map((p) => p['QUERY PLAN']).join('\n')).toMatch(/tasks_callback_id_hash_unique/);
  });
});
