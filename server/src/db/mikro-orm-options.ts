import { Migrator } from '@mikro-orm/migrations';
import { defineConfig } from '@mikro-orm/postgresql';
import { entities } from './entities/index.ts';
import { migrationsList } from './migrations/index.ts';

export type OrmOptions = { url: string; poolSize: number };

/** MikroORM settings shared by the server, the CLI and the migration generator. */
export function ormOptions({ url, poolSize }: OrmOptions) {
  return defineConfig({
    clientUrl: url,
    entities,
    extensions: [Migrator],
    pool: { min: 0, max: poolSize },
    // Named like our other pools, so pg_stat_activity tells them apart.
    driverOptions: { application_name: 'asyncqueue-orm' },
    // Why: a request or job always works on its own fork; the global em must never hold state.
    allowGlobalContext: false,
    ensureDatabase: false,
    debug: false,
    migrations: {
      path: 'server/src/db/migrations',
      pathTs: 'server/src/db/migrations',
      emit: 'ts',
      migrationsList,
      snapshot: false,
      tableName: 'mikro_orm_migrations',
      silent: true,
    },
  });
}
