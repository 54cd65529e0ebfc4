import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/**
 * A fresh database for one test file, on the run's PostgreSQL: a copy of the run's migrated
 * template (template-database.ts), or an empty one with `{ empty: true }` (a migration test).
 * Returns its URL.
 */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<string> {
  const admin = inject('adminDatabaseUrl');
  const name = `${inject('testDatabasePrefix')}${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    const template = opts.empty ? '' : ` template ${client.escapeIdentifier(inject('templateDatabase'))}`;
    await client.query(`create database ${client.escapeIdentifier(name)}${template}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}
