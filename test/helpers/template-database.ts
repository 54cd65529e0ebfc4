import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { openOrm, runMigrations } from '../../server/src/db/database.ts';
import { BOSS_SCHEMA } from '../../server/src/jobs/boss.ts';

/**
 * The run's migrated template: our migrations applied and pg-boss's schema created, once per run,
 * so each test file's database is a copy (`create database … template …`, a file copy on the
 * server) instead of migrating again. pg-boss's queues are left out: each app creates them with
 * its own settings (heartbeats follow the takeover window a test configures).
 */
export async function createTemplateDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const orm = await openOrm(url.toString(), 2);
  try {
    await runMigrations(orm, url.toString());
  } finally {
    await orm.close(true);
  }
  const boss = new PgBoss({
    connectionString: url.toString(),
    schema: BOSS_SCHEMA,
    max: 2,
    supervise: false,
    schedule: false,
  });
  await boss.start();
  await boss.stop({ graceful: false, close: true });
  // Marks it a template: only copies are made of it, and no one may connect to it by mistake.
  const done = new pg.Client({ connectionString: adminUrl });
  await done.connect();
  try {
    await done.query(`alter database ${done.escapeIdentifier(name)} with is_template true allow_connections false`);
  } finally {
    await done.end();
  }
}
