import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedDatabase } from '../../server/src/db/embedded-database.ts';
import { createTemplateDatabase } from './template-database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    /** Prefix of this run's databases: teardown drops only these, never another run's. */
    testDatabasePrefix: string;
    /** The run's migrated template database (template-database.ts). */
    templateDatabase: string;
  }
}

export const TEST_DATABASE_PREFIX = 'aq_test_';

/**
 * One PostgreSQL for the whole run: DATABASE_URL when set (CI's PostgreSQL 15), else an embedded
 * one. Each test file creates its own database on it (test/helpers/test-database.ts).
 */
export default async function setup(project: TestProject) {
  let url = process.env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (!url) {
    const db = await startEmbeddedDatabase({
      dataDir: path.join(os.tmpdir(), 'asyncqueue-test-postgres'),
      log: (msg, extra) => process.stderr.write(`${msg} ${extra ? JSON.stringify(extra) : ''}\n`),
      database: 'postgres',
    });
    url = db.url;
    stop = db.stop;
    process.stderr.write('tests: using an embedded PostgreSQL (set DATABASE_URL to use your own)\n');
  }
  const prefix = `${TEST_DATABASE_PREFIX}${randomBytes(3).toString('hex')}_`;
  project.provide('adminDatabaseUrl', url);
  project.provide('testDatabasePrefix', prefix);
  const template = `${prefix}template`;
  await createTemplateDatabase(url, template);
  project.provide('templateDatabase', template);
  return async () => {
    await dropTestDatabases(url, prefix);
    await stop?.();
  };
}

async function dropTestDatabases(url: string, prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>('select datname from pg_database where datname like $1', [
      `${prefix}%`,
    ]);
    for (const { datname } of rows) {
      if (datname.endsWith('template'))
        await client.query(`alter database ${client.escapeIdentifier(datname)} is_template false`);
      await client.query(`drop database if exists ${client.escapeIdentifier(datname)} with (force)`).catch(() => {});
    }
  } finally {
    await client.end();
  }
}
