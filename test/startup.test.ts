import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../server/src/auth/api-key-format.ts';
import { api } from './helpers/http.ts';
import {
  freePort,
  killPostgresFor,
  postgresPidsFor,
  type ServerProcess,
  spawnServer,
  waitUntil,
} from './helpers/server-process.ts';

// Real `node server/src/main.ts` processes on the embedded PostgreSQL (no DATABASE_URL): first start
// on an empty data dir (initdb), clean restart, restart after SIGKILL (orphaned postmaster).

const KEY_PATTERN = /async_[0-9A-Za-z]{48}/g;
// Why 60 s: a generous bound for a first start, initdb included, on a loaded 2-core machine.
const READY_MS = 60_000;
// Why 30 s: main.ts gives shutdown 25 s before it exits 1 on its own.
const EXIT_MS = 30_000;
// Why 10 s: a stopped server's postmaster is gone before the process exits; this only covers ps lag.
const PG_GONE_MS = 10_000;
const SLOW = { timeout: 180_000 };

const servers: ServerProcess[] = [];
const dataDirs: string[] = [];
const timings: Record<string, number> = {};

async function freshDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aq-startup-'));
  dataDirs.push(dir);
  return dir;
}

async function start(dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = spawnServer({ ASYNCQUEUE_DATA_DIR: dataDir, LOG_LEVEL: 'info', ...env }, await freePort());
  servers.push(server);
  return server;
}

function keysIn(text: string): string[] {
  return text.match(KEY_PATTERN) ?? [];
}

async function stopWithSigterm(server: ServerProcess, dataDir: string): Promise<void> {
  server.child.kill('SIGTERM');
  const exit = await server.waitExit(EXIT_MS);
  expect(exit, server.describe()).toEqual({ code: 0, signal: null });
  const gone = await waitUntil(async () => (await postgresPidsFor(dataDir)).length === 0, PG_GONE_MS);
  expect(gone, `postgres still running for ${dataDir}: ${await postgresPidsFor(dataDir)}`).toBe(true);
}

afterAll(async () => {
  for (const server of servers) if (!server.exited()) server.child.kill('SIGKILL');
  for (const server of servers) await server.waitExit(10_000).catch(() => {});
  for (const dir of dataDirs) {
    const left = await killPostgresFor(dir);
    if (left.length > 0) process.stderr.write(`startup.test: killed leftover postgres ${left.join(',')} for ${dir}\n`);
    await rm(dir, { recursive: true, force: true });
  }
  process.stderr.write(`startup.test timings (ms): ${JSON.stringify(timings)}\n`);
}, 60_000);

describe('npm start on the embedded database', () => {
  let dataDir: string;
  let apiKey: string;
  let taskId: string;

  it('starts on an empty data dir, prints one generated key on stderr, and that key works', SLOW, async () => {
    dataDir = await freshDataDir();
    const server = await start(dataDir);
    timings.firstStart = await server.waitReady(READY_MS);

    const printed = keysIn(server.stderr());
    expect(printed, server.describe()).toHaveLength(1);
    apiKey = printed[0] as string;
    expect(apiKey).toMatch(/^async_[0-9A-Za-z]{48}$/);
    expect(keysIn(server.stdout()), 'the key must not appear in the logs').toEqual([]);
    expect((await postgresPidsFor(dataDir)).length, 'an embedded postgres runs for the data dir').toBeGreaterThan(0);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const list = await api(server.url, 'GET', '/v1/tasks', { key: apiKey });
    expect(list.status, list.text).toBe(200);
    expect(list.body.tasks).toEqual([]);
    const unauthenticated = await api(server.url, 'GET', '/v1/tasks');
    expect(unauthenticated.status).toBe(401);

    // Delayed by a day: stays put (never dispatched) so the restarts below can find it unchanged.
    const delayUntil = new Date(Date.now() + 86_400_000).toISOString();
    const created = await api(server.url, 'POST', '/v1/tasks', {
      key: apiKey,
      body: { targetUrl: 'https://example.com/hook', body: '{"n":1}', delayUntil },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.task.status).toBe('delayed');
    taskId = created.body.task.id;
  });

  it(
    'exits 0 on SIGTERM leaving no postgres, and restarts with the same key and data and no new key',
    SLOW,
    async () => {
      const first = servers.at(-1) as ServerProcess;
      const stopStarted = Date.now();
      await stopWithSigterm(first, dataDir);
      timings.sigtermStop = Date.now() - stopStarted;

      const second = await start(dataDir);
      timings.cleanRestart = await second.waitReady(READY_MS);
      expect(keysIn(second.stderr()), second.describe()).toEqual([]);
      expect(keysIn(second.stdout())).toEqual([]);

      const list = await api(second.url, 'GET', '/v1/tasks', { key: apiKey });
      expect(list.status, list.text).toBe(200);
      expect(list.body.tasks.map((t: { id: string }) => t.id)).toEqual([taskId]);
      const task = await api(second.url, 'GET', `/v1/tasks/${taskId}`, { key: apiKey });
      expect(task.status, task.text).toBe(200);
      expect(task.body.task).toMatchObject({
        id: taskId,
        status: 'delayed',
        body: '{"n":1}',
        targetUrl: 'https://example.com/hook',
      });
    },
  );

  it('recovers after SIGKILL orphans the embedded postgres, then stops cleanly', SLOW, async () => {
    const second = servers.at(-1) as ServerProcess;
    const postgresBefore = await postgresPidsFor(dataDir);
    expect(postgresBefore.length, 'postgres runs before the kill').toBeGreaterThan(0);
    second.child.kill('SIGKILL');
    expect(await second.waitExit(EXIT_MS)).toEqual({ code: null, signal: 'SIGKILL' });
    // The point of this test: the postmaster outlives its parent.
    const orphaned = await postgresPidsFor(dataDir);
    expect(orphaned, 'the embedded postgres should survive a SIGKILL of the server').toEqual(postgresBefore);

    const third = await start(dataDir);
    timings.restartAfterKill = await third.waitReady(READY_MS);
    expect(keysIn(third.stderr()), third.describe()).toEqual([]);
    for (const pid of orphaned) {
      expect(await postgresPidsFor(dataDir), `orphan ${pid} replaced`).not.toContain(pid);
    }

    const task = await api(third.url, 'GET', `/v1/tasks/${taskId}`, { key: apiKey });
    expect(task.status, task.text).toBe(200);
    expect(task.body.task).toMatchObject({ id: taskId, status: 'delayed' });
    const list = await api(third.url, 'GET', '/v1/tasks', { key: apiKey });
    expect(list.body.tasks).toHaveLength(1);

    await stopWithSigterm(third, dataDir);
  });
});

describe('ASYNCQUEUE_BOOTSTRAP_API_KEY on a fresh data dir', () => {
  it('creates the default team with that key and prints no key', SLOW, async () => {
    const dataDir = await freshDataDir();
    const bootstrapKey = generateApiKey();
    expect(bootstrapKey).toMatch(/^async_[0-9A-Za-z]{48}$/);
    const server = await start(dataDir, { ASYNCQUEUE_BOOTSTRAP_API_KEY: bootstrapKey });
    timings.firstStartWithBootstrapKey = await server.waitReady(READY_MS);
    expect(keysIn(server.stderr()), server.describe()).toEqual([]);
    expect(keysIn(server.stdout()), server.describe()).toEqual([]);

    const ok = await api(server.url, 'GET', '/v1/tasks', { key: bootstrapKey });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.tasks).toEqual([]);
    const wrong = await api(server.url, 'GET', '/v1/tasks', { key: `async_${'x'.repeat(48)}` });
    expect(wrong.status).toBe(401);

    await stopWithSigterm(server, dataDir);
  });
});
