import { ormOptions } from './mikro-orm-options.ts';

/** For the MikroORM CLI (`MIKRO_ORM_CLI_CONFIG=server/src/db/mikro-orm.config.ts`). */
export default ormOptions({
  url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/asyncqueue',
  poolSize: 2,
});
