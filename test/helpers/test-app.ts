import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type App, startApp } from '../../server/src/app.ts';
import { createApiKey, createTeam } from '../../server/src/auth/teams.ts';
import { loadConfig } from '../../server/src/config/config.ts';
import { createLogger } from '../../server/src/logging/logger.ts';
import { createLogCapture } from './log-capture.ts';
import { createTestDatabase } from './test-database.ts';

export type TestTeam = { teamId: string; apiKey: string; webhookSecret: string };

export type TestApp = {
  app: App;
  url: string;
  databaseUrl: string;
  logs: ReturnType<typeof createLogCapture>;
  newTeam(): Promise<TestTeam>;
  stop(): Promise<void>;
};

/** An in-process server on port 0 with its own database, debug logs captured, loopback allowed. */
export async function startTestApp(env: Record<string, string> = {}, databaseUrl?: string): Promise<TestApp> {
  const url = databaseUrl ?? (await createTestDatabase());
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'aq-app-'));
  // A known port up front, so PUBLIC_URL (the base of callback URLs) points at this very server.
  const port = env.PORT ?? String(await freePort());
  const config = loadConfig({
    DATABASE_URL: url,
    PORT: port,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    HOST: '127.0.0.1',
    ASYNCQUEUE_DATA_DIR: dataDir,
    ASYNCQUEUE_ALLOWED_CIDRS: '127.0.0.0/8',
    ASYNCQUEUE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ASYNCQUEUE_DB_POOL_SIZE: '5',
    LOG_LEVEL: 'debug',
    ...env,
  });
  const logs = createLogCapture();
  const app = await startApp(config, { logger: createLogger('debug', logs.stream), announceApiKey: () => {} });
  return {
    app,
    url: app.url,
    databaseUrl: url,
    logs,
    async newTeam() {
      const em = app.orm.em.fork();
      const team = await createTeam(em, `team-${randomBytes(3).toString('hex')}`, app.secretBox);
      const key = await createApiKey(em, team.id, 'test');
      return { teamId: team.id, apiKey: key.apiKey, webhookSecret: team.webhookSecret };
    },
    stop: () => app.stop(),
  };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
