import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { waitFor } from './helpers/wait-for.ts';

// GET /readyz: 200 when the database is reachable and the queue started, else 503 within a second
// of losing it. The app reaches its (real) PostgreSQL through a TCP proxy, which the test pauses
// (the database stops answering: a partition, a hung server) or closes (the database is down).

/** The contract: a lost database is reported within this long. */
const ANSWER_BOUND_MS = 1_000;

let proxy: TcpProxy;
let t: TestApp;

beforeAll(async () => {
  const direct = new URL(await createTestDatabase());
  proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  t = await startTestApp({}, proxy.wrap(direct.toString()));
});
afterAll(async () => {
  proxy?.resume();
  await t?.stop();
  await proxy?.close();
});

/** One /readyz request: its status, its checks, and how long it took to answer. */
async function readyz() {
  const started = Date.now();
  const res = await fetch(`${t.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  const body = await res.json();
  return { status: res.status, body, ms: Date.now() - started };
}

describe('/readyz', () => {
  it('answers 503 within a second when the database stops answering, and 200 again when it is back', async () => {
    expect((await readyz()).status).toBe(200);
    proxy.pause();
    const lost = await readyz();
    expect(lost.status).toBe(503);
    expect(lost.body.checks).toMatchObject({ database: false, queue: true });
    expect(lost.ms, 'answered within a second').toBeLessThan(ANSWER_BOUND_MS);
    // Every probe keeps its bound while the database stays silent (no probe stuck on a dead socket).
    const again = await readyz();
    expect([again.status, again.ms < ANSWER_BOUND_MS]).toEqual([503, true]);
    proxy.resume();
    await waitFor('/readyz to answer 200 again', async () => (await readyz()).status === 200, 10_000);
  });

  it('answers 503 within a second when the database is down, and 200 again when it is back', async () => {
    expect((await readyz()).status).toBe(200);
    await proxy.close();
    const lost = await readyz();
    expect(lost.status).toBe(503);
    expect(lost.body.checks).toMatchObject({ database: false });
    expect(lost.ms, 'answered within a second').toBeLessThan(ANSWER_BOUND_MS);
    await proxy.reopen();
    await waitFor('/readyz to answer 200 again', async () => (await readyz()).status === 200, 10_000);
  });
});
