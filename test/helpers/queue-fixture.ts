import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { PgBoss } from 'pg-boss';
import { afterAll, beforeAll } from 'vitest';
import { createSecretBox } from '../../server/src/auth/secret-box.ts';
import { createTeam } from '../../server/src/auth/teams.ts';
import { openOrm, runMigrations } from '../../server/src/db/database.ts';
import { startBoss } from '../../server/src/jobs/boss.ts';
import type { Enqueue } from '../../server/src/jobs/queues.ts';
import type { CreateDeps } from '../../server/src/tasks/create-task.ts';
import { createTestDatabase } from './test-database.ts';

/** A fresh database with our schema and a started pg-boss, but no server and no workers. */
export async function openQueueFixture(): Promise<{ orm: MikroORM; boss: PgBoss; close(): Promise<void> }> {
  const url = await createTestDatabase();
  const orm = await openOrm(url, 4);
  await runMigrations(orm, url);
  const boss = await startBoss({ url, poolSize: 2, takeoverSeconds: 60, onError: () => {} });
  return {
    orm,
    boss,
    async close() {
      await boss.stop({ graceful: false });
      await orm.close(true);
    },
  };
}

/** What createTask needs, with a given enqueue and nothing else configured. */
export function createDeps(enqueue: Enqueue): CreateDeps {
  return {
    enqueue,
    secretBox: createSecretBox(randomBytes(32)),
    publicUrl: 'http://127.0.0.1:1',
    maxBodyBytes: 1024 * 1024,
    maxWaitTime: 86_400,
    providerBaseUrls: {},
    checkUrl: () => null,
    missingVaultReferences: async () => [],
  };
}

/**
 * `openQueueFixture` for one test file, with one team: opened before its tests, closed after them.
 * The fields are set once `beforeAll` has run.
 */
export function useQueueFixture(teamName: string): { orm: MikroORM; boss: PgBoss; teamId: string } {
  const fx = {} as { orm: MikroORM; boss: PgBoss; teamId: string };
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const fixture = await openQueueFixture();
    close = fixture.close;
    fx.orm = fixture.orm;
    fx.boss = fixture.boss;
    fx.teamId = (await createTeam(fixture.orm.em.fork(), teamName, createSecretBox(randomBytes(32)))).id;
  });
  afterAll(async () => {
    await close?.();
  });
  return fx;
}
