import { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { startEmbeddedDatabase, startOrAttachEmbeddedDatabase } from './embedded-database.ts';
import { ormOptions } from './mikro-orm-options.ts';

export type Database = { url: string; embedded: boolean; stop: () => Promise<void> };

/** DATABASE_URL when set; otherwise a real PostgreSQL embedded under the data dir. */
export async function resolveDatabase(opts: {
  databaseUrl: string | undefined;
  dataDir: string;
  log: (msg: string, extra?: Record<string, unknown>) => void;
  /** CLI: share the embedded database of a server already running on the same data dir. */
  attach?: boolean;
}): Promise<Database> {
  if (opts.databaseUrl) return { url: opts.databaseUrl, embedded: false, stop: async () => {} };
  const start = opts.attach ? startOrAttachEmbeddedDatabase : startEmbeddedDatabase;
  const embedded = await start({ dataDir: opts.dataDir, log: opts.log });
  return { url: embedded.url, embedded: true, stop: () => embedded.stop() };
}

/** Opens MikroORM and connects at once, so a bad URL fails at start, not at the first request. */
export async function openOrm(url: string, poolSize: number): Promise<MikroORM> {
  const orm = await MikroORM.init(ormOptions({ url, poolSize }));
  await orm.connect();
  return orm;
}

/** Why a fixed key: every AsyncQueue instance must contend for the same migration lock. */
const MIGRATION_LOCK = 'asyncqueue:migrate';

/**
 * Runs pending migrations while holding a session advisory lock on a separate connection, so
 * several instances starting at once migrate one after the other (the later ones find nothing to do).
 */
export async function runMigrations(orm: MikroORM, url: string): Promise<string[]> {
  const lock = new pg.Client({ connectionString: url, application_name: 'asyncqueue-migrate' });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    const applied = await orm.migrator.up();
    return applied.map((m) => m.name);
  } finally {
    await lock.query('select pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK]).catch(() => {});
    await lock.end();
  }
}
