import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSecretBox } from '../../server/src/auth/secret-box.ts';
import { createApiKey, createTeam } from '../../server/src/auth/teams.ts';
import { openOrm } from '../../server/src/db/database.ts';
import { freePort, killPostgresFor, type ServerProcess, spawnServer } from './server-process.ts';
import type { TestTeam } from './test-app.ts';

// Why 60 s: a cold `node server/src/main.ts` (type stripping, migrations) on a loaded 2-core machine.
const READY_MS = 60_000;
// Why 10 s: a SIGKILLed process is reaped at once; this only covers a wedged child at cleanup.
const EXIT_MS = 10_000;

/**
 * Real server processes sharing one PostgreSQL database, as a scaled-out deployment would run
 * them: one encryption key for all, loopback targets allowed, limits high enough never to
 * interfere, and a 20 s takeover window (heartbeat max(10, 20/2) = 10 s).
 */
export function createCluster(databaseUrl: string, extraEnv: Record<string, string> = {}) {
  const encryptionKey = randomBytes(32).toString('base64');
  const servers: ServerProcess[] = [];
  const dataDirs: string[] = [];

  return {
    servers,
    /** The encryption key every instance shares (base64): teams made on the database seal with it. */
    encryptionKey,
    /** Spawns one instance on the shared database and waits until /readyz answers 200. */
    async start(env: Record<string, string> = {}): Promise<ServerProcess & { readyMs: number }> {
      const port = await freePort();
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'aq-cluster-'));
      dataDirs.push(dataDir);
      const server = spawnServer(
        {
          DATABASE_URL: databaseUrl,
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          ASYNCQUEUE_DATA_DIR: dataDir,
          ASYNCQUEUE_ALLOWED_CIDRS: '127.0.0.0/8',
          ASYNCQUEUE_ENCRYPTION_KEY: encryptionKey,
          ASYNCQUEUE_JOB_TAKEOVER_SECONDS: '20',
          ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
          ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '100000',
          // Why 4: each instance opens about 2 × pool + 7 connections (ORM, pg-boss, rate limiters,
          // LISTEN); several instances and other test files share one PostgreSQL's max_connections.
          ASYNCQUEUE_DB_POOL_SIZE: '4',
          LOG_LEVEL: 'info',
          ...extraEnv,
          ...env,
        },
        port,
      );
      servers.push(server);
      const readyMs = await server.waitReady(READY_MS);
      return Object.assign(server, { readyMs });
    },
    /** SIGKILL: no shutdown hook runs, sockets die with the process, pg-boss jobs stay `active`. */
    async kill(server: ServerProcess): Promise<void> {
      server.child.kill('SIGKILL');
      const exit = await server.waitExit(EXIT_MS);
      if (exit.signal !== 'SIGKILL') throw new Error(`expected a SIGKILL exit: ${server.describe()}`);
    },
    /**
     * For afterAll: kills whatever still runs, stops any embedded postgres left under the data dirs
     * (none is expected with DATABASE_URL set) and removes them. Returns the leftover pids found.
     */
    async stopAll(): Promise<number[]> {
      for (const server of servers) if (!server.exited()) server.child.kill('SIGKILL');
      for (const server of servers) await server.waitExit(EXIT_MS).catch(() => {});
      const leftovers: number[] = [];
      for (const dir of dataDirs) {
        leftovers.push(...(await killPostgresFor(dir)));
        await rm(dir, { recursive: true, force: true });
      }
      return leftovers;
    },
  };
}

export type Cluster = ReturnType<typeof createCluster>;

/** A team and key made with the CLI's own functions, straight on the database (already migrated). */
export async function createTeamOnDatabase(databaseUrl: string, encryptionKey: string): Promise<TestTeam> {
  const orm = await openOrm(databaseUrl, 2);
  try {
    const box = createSecretBox(Buffer.from(encryptionKey, 'base64'));
    const team = await createTeam(orm.em.fork(), `team-${randomBytes(3).toString('hex')}`, box);
    const key = await createApiKey(orm.em.fork(), team.id, 'test');
    return { teamId: team.id, apiKey: key.apiKey, webhookSecret: team.webhookSecret };
  } finally {
    await orm.close(true);
  }
}
