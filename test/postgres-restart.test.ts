import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../server/src/auth/api-key-format.ts';
import { type EmbeddedDatabase, startEmbeddedDatabase } from '../server/src/db/embedded-database.ts';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { api } from './helpers/http.ts';
import { freePort, killPostgresFor, type ServerProcess, spawnServer, waitUntil } from './helpers/server-process.ts';

/**
 * PostgreSQL restarted under load. The test runs its OWN embedded PostgreSQL (a shared one, like
 * CI's, cannot be restarted), a real server process on it, and a fake target that counts the calls
 * per task id (the X-AsyncQueue-Task-Id header). Halfway through creating 500 tasks, PostgreSQL is
 * stopped and started again. Every task must end `completed`, every target call must happen exactly
 * once, and /readyz must say 503 while the database is down and 200 once it is back.
 */

const TASKS = 500;
// Why 10: a steady stream of creates from several clients, so the restart lands mid-load.
const CREATORS = 10;
// Why 200 ms: each target call stays in flight long enough that the restart catches some mid-call.
const TARGET_MS = 200;
// Why 3 s: long enough that creates, dispatches and pg-boss polls all hit the dead database.
const DOWN_MS = 3_000;
// Why 5 s: /readyz must notice within a second; the rest covers a loaded 2-core machine.
const NOTICE_DOWN_MS = 5_000;
// Why 60 s: reconnecting pools and pg-boss after a restart, on a loaded machine.
const BACK_UP_MS = 60_000;
// Why 180 s: 500 calls of 200 ms, plus retries pushed back by the outage (1, 2, 4 … s backoff).
const ALL_DONE_MS = 180_000;
const API_KEY = generateApiKey();

// Postgres's own output (shutdown and recovery lines): the last lines are kept for a failure message.
const postgresOutput: string[] = [];
const log = (msg: string, extra?: unknown) => {
  postgresOutput.push(`${msg} ${extra ? JSON.stringify(extra) : ''}`);
  if (postgresOutput.length > 100) postgresOutput.shift();
};

let dataDir: string;
let database: EmbeddedDatabase;
let server: ServerProcess;
let provider: FakeProvider;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'aq-pg-restart-'));
  [database, provider] = await Promise.all([
    startEmbeddedDatabase({ dataDir, log, database: 'asyncqueue' }),
    startFakeProvider(),
  ]);
  server = spawnServer(
    {
      DATABASE_URL: database.url,
      ASYNCQUEUE_BOOTSTRAP_API_KEY: API_KEY,
      ASYNCQUEUE_ALLOWED_CIDRS: '127.0.0.0/8',
      ASYNCQUEUE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '1000000',
      LOG_LEVEL: 'warn',
    },
    await freePort(),
  );
  await server.waitReady(60_000);
}, 120_000);

afterAll(async () => {
  if (server && !server.exited()) {
    server.child.kill('SIGTERM');
    await server.waitExit(30_000).catch(() => server.child.kill('SIGKILL'));
  }
  await provider?.stop();
  await database?.stop();
  if (dataDir) {
    await killPostgresFor(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** Creates one task like a careful client (the SDK does the same): one idempotency key, retried until accepted. */
async function createUntilAccepted(n: number): Promise<string> {
  const key = randomUUID();
  const deadline = Date.now() + BACK_UP_MS + DOWN_MS;
  for (;;) {
    const res = await api(server.url, 'POST', '/v1/tasks', {
      key: API_KEY,
      headers: { 'idempotency-key': key },
      body: { targetUrl: provider.url(`/slow?ms=${TARGET_MS}`), body: JSON.stringify({ n }) },
    }).catch(() => undefined);
    if (res && (res.status === 201 || res.status === 200)) return res.body.task.id as string;
    if (res && res.status < 500 && res.status !== 409) throw new Error(`create ${n}: ${res.status} ${res.text}`);
    if (Date.now() > deadline) throw new Error(`create ${n} never accepted: ${res?.status} ${res?.text}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

const readyStatus = async () => (await api(server.url, 'GET', '/readyz').catch(() => undefined))?.status;

async function statusCounts(url: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ status: string; n: number }>(
      'select status, count(*)::int as n from tasks group by status',
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  } finally {
    await client.end();
  }
}

describe('PostgreSQL restarted under load', () => {
  it(`${TASKS} tasks: none lost, none dispatched twice, /readyz 503 while down and 200 after`, async () => {
    const ids: string[] = [];
    let next = 0;
    let restart: Promise<{ sawDown: boolean; sawUpAgain: boolean }> | undefined;
    const creator = async () => {
      while (next < TASKS) {
        const n = next++;
        ids.push(await createUntilAccepted(n));
        if (ids.length === TASKS / 2) restart ??= restartDatabase();
      }
    };
    const restartDatabase = async () => {
      await database.stop();
      const sawDown = await waitUntil(async () => (await readyStatus()) === 503, NOTICE_DOWN_MS);
      await new Promise((done) => setTimeout(done, DOWN_MS));
      database = await startEmbeddedDatabase({ dataDir, log, database: 'asyncqueue' });
      const sawUpAgain = await waitUntil(async () => (await readyStatus()) === 200, BACK_UP_MS);
      return { sawDown, sawUpAgain };
    };
    await Promise.all(Array.from({ length: CREATORS }, creator));
    const readiness = await restart;

    const finished = await waitUntil(async () => {
      const counts = await statusCounts(database.url).catch(() => ({}) as Record<string, number>);
      return (
        Object.values(counts).reduce((a, b) => a + b, 0) === TASKS &&
        ['pending', 'processing', 'delayed'].every((s) => !counts[s])
      );
    }, ALL_DONE_MS);
    const counts = await statusCounts(database.url);
    expect(server.exited(), server.describe()).toBe(false);
    expect(new Set(ids).size).toBe(TASKS);
    expect({ finished, counts }, postgresOutput.join('\n')).toEqual({ finished: true, counts: { completed: TASKS } });

    const hits = new Map<string, number>();
    for (const req of provider.requestsTo('/slow')) {
      const id = String(req.headers['x-asyncqueue-task-id']);
      hits.set(id, (hits.get(id) ?? 0) + 1);
    }
    // One assertion, so a failure shows all three facts at once.
    expect({
      neverDispatched: ids.filter((id) => !hits.has(id)),
      dispatchedMoreThanOnce: [...hits].filter(([, n]) => n > 1).map(([id, n]) => `${id} × ${n}`),
      readyz: readiness,
    }).toEqual({ neverDispatched: [], dispatchedMoreThanOnce: [], readyz: { sawDown: true, sawUpAgain: true } });
  }, 300_000);
});
