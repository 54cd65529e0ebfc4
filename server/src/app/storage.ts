import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { bootstrapFirstTeam } from '../auth/bootstrap.ts';
import { resolveEncryptionKey } from '../auth/encryption-key.ts';
import { sealAtRest } from '../auth/seal-at-rest.ts';
import { createSecretBox, type SecretBox } from '../auth/secret-box.ts';
import type { Config } from '../config/config.ts';
import { type Database, openOrm, resolveDatabase, runMigrations } from '../db/database.ts';
import { createDatabaseProbe } from '../db/database-probe.ts';
import { startBoss } from '../jobs/boss.ts';
import type { Logger } from '../logging/logger.ts';

/** What the rest of the instance stores through: the database, its pools and pg-boss. */
export type Storage = {
  database: Database;
  orm: MikroORM;
  boss: PgBoss;
  secretBox: SecretBox;
  /** Rate-limit counters and NOTIFYs (asynchronous commit, see openSidePool). */
  sidePool: pg.Pool;
  /** /readyz's own bounded connection (opened on the first probe). */
  databaseProbe: ReturnType<typeof createDatabaseProbe>;
};

/**
 * Why 3: rate limiters run one short statement per request, and NOTIFYs go out batched; 3
 * connections carry thousands per second.
 */
const SIDE_POOL_SIZE = 3;

/**
 * Opens the database (embedded when none is configured), migrates it, starts pg-boss, seals what
 * older versions stored in the clear and creates the first team on a fresh database.
 */
export async function startStorage(
  config: Config,
  logger: Logger,
  announceApiKey: (apiKey: string) => void,
): Promise<Storage> {
  const { database, orm } = await openMigratedDatabase(config, logger);
  const boss = await startBoss({
    url: database.url,
    poolSize: config.dbPoolSize,
    takeoverSeconds: config.jobTakeoverSeconds,
    onError: (error) => logger.error({ err: { message: error.message } }, 'pg-boss error'),
  });
  const secretBox = await sealStoredSecrets(config, logger, orm);
  await bootstrapFirstTeam(orm.em.fork(), {
    secretBox,
    bootstrapApiKey: config.bootstrapApiKey,
    announce: (apiKey, generated) => {
      if (generated) announceApiKey(apiKey);
      logger.info('created the default team and its first API key');
    },
  });
  const sidePool = openSidePool(database.url, logger);
  const databaseProbe = createDatabaseProbe(database.url, (message) => logger.warn(message));
  return { database, orm, boss, secretBox, sidePool, databaseProbe };
}

async function openMigratedDatabase(config: Config, logger: Logger): Promise<{ database: Database; orm: MikroORM }> {
  const database = await resolveDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    log: (msg, extra) => logger.warn(extra ?? {}, msg),
  });
  const orm = await openOrm(database.url, config.dbPoolSize);
  const applied = await runMigrations(orm, database.url);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  return { database, orm };
}

/** Resolves the encryption key and seals what older versions stored in the clear (idempotent). */
async function sealStoredSecrets(config: Config, logger: Logger, orm: MikroORM): Promise<SecretBox> {
  const encryptionKey = await resolveEncryptionKey({
    configured: config.encryptionKey,
    dataDir: config.dataDir,
    warn: (message) => logger.warn(message),
  });
  const secretBox = createSecretBox(encryptionKey);
  const resealed = await sealAtRest(orm.em.fork(), secretBox);
  if (resealed.teams + resealed.vaultTokens + resealed.callbackIds > 0) logger.info(resealed, 'sealed stored secrets');
  return secretBox;
}

function openSidePool(url: string, logger: Logger): pg.Pool {
  const sidePool = new pg.Pool({
    connectionString: url,
    max: SIDE_POOL_SIZE,
    application_name: 'asyncqueue-side',
    // Why: this pool keeps rate-limit counters and sends NOTIFY-only statements; neither needs to
    // wait for the WAL flush. A team's counter row is then locked for microseconds instead of a
    // disk flush per request (one team's requests no longer queue behind each other's fsync), and a
    // NOTIFY holds PostgreSQL's NOTIFY lock as briefly. A database crash may forget the last few
    // milliseconds of counts, which costs nothing. Task and job writes stay synchronous.
    options: '-c synchronous_commit=off',
  });
  // An idle client can be terminated by the server (restart, shutdown): log it, never crash on it.
  sidePool.on('error', (error) => logger.warn({ err: { message: error.message } }, 'rate-limit pool connection error'));
  return sidePool;
}
