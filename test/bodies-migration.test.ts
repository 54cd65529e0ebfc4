import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrm } from '../server/src/db/database.ts';
import { findTaskById } from '../server/src/tasks/store/read.ts';
import { toTaskView } from '../server/src/tasks/task-view.ts';
import { createTestDatabase } from './helpers/test-database.ts';

// The migration that moves bodies out of jsonb: rows written before it keep their results, with
// the body now in text columns (as "utf8": a jsonb string was always text) and progress as JSON text.

let orm: MikroORM;
beforeAll(async () => {
  orm = await openOrm(await createTestDatabase({ empty: true }), 2);
});
afterAll(async () => {
  await orm?.close(true);
});

describe('migration 2026-12-07-bodies-outside-jsonb', () => {
  it('moves existing result and start result bodies to text columns and keeps progress', async () => {
    await orm.migrator.up({ to: '2026-11-27-poll-chain' });
    const teamId = randomUUID();
    await orm.em
      .fork()
      .execute(
        `insert into teams (id, name, webhook_secret, created_at) values (?, 'before-bodies', 'whsec_x', now())`,
        [teamId],
      );
    const id = randomUUID();
    const result = {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"ok":"é"}',
      duration: 12,
      bodyTruncated: false,
    };
    const startResult = { ...result, body: '{"id":"job-1"}' };
    await orm.em.fork().execute(
      `insert into tasks (id, team_id, status, target_url, method, headers, timeout, max_retries, retry_backoff,
         priority, wait_for_signal, max_wait_time, result, start_result, progress, created_at, updated_at)
       values (?, ?, 'completed', 'https://example.com', 'POST', '{}', 30, 3, 'exponential', 5, false, 300,
         ?::jsonb, ?::jsonb, ?::jsonb, now(), now())`,
      [id, teamId, JSON.stringify(result), JSON.stringify(startResult), JSON.stringify({ state: 'dreaming' })],
    );
    await orm.migrator.up();

    const [raw] = await orm.em
      .fork()
      .execute<Record<string, unknown>[]>(
        'select result, result_body, result_body_encoding, start_result_body from tasks where id = ?',
        [id],
      );
    expect(raw).toMatchObject({
      result_body: '{"ok":"é"}',
      result_body_encoding: 'utf8',
      start_result_body: '{"id":"job-1"}',
    });
    expect(raw?.result).not.toHaveProperty('body');
    const task = await findTaskById(orm.em.fork(), id);
    expect(task?.startResult).toEqual({ ...startResult, bodyEncoding: 'utf8' });
    const view = toTaskView(task!);
    expect(view.result).toEqual({ ...result, bodyEncoding: 'utf8' });
    expect(view.progress).toEqual({ state: 'dreaming' });
  });
});
