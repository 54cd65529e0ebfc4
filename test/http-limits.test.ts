import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { sleep } from './helpers/race-tools.ts';
import { type RawConnection, rawConnect, requestHead } from './helpers/raw-http.ts';
import { delayedTask } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

/** Far longer than the server's own bounds below; before the fix, nothing happened for minutes. */
const CUT_BOUND_MS = 15_000;
const MAX_CONNECTIONS = 5;
let slowClients: TestApp;
let capped: TestApp;
let team: TestTeam;
const open: RawConnection[] = [];

beforeAll(async () => {
  // Short receive bounds, so slow clients are cut within the test; long-polls must not be.
  slowClients = await startTestApp({
    ASYNCQUEUE_HTTP_HEADERS_TIMEOUT_SECONDS: '2',
    ASYNCQUEUE_HTTP_REQUEST_TIMEOUT_SECONDS: '3',
  });
  team = await slowClients.newTeam();
  capped = await startTestApp({ ASYNCQUEUE_MAX_CONNECTIONS: String(MAX_CONNECTIONS) });
});
afterAll(async () => {
  for (const connection of open) connection.close();
  await slowClients.stop();
  await capped.stop();
});

const openConnections = () =>
  new Promise<number>((resolve, reject) =>
    capped.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );

async function connect(baseUrl: string): Promise<RawConnection> {
  const connection = await rawConnect(baseUrl);
  open.push(connection);
  return connection;
}

describe('slow clients are cut', () => {
  it('cuts a client that sends its headers byte by byte slower than the headers timeout', async () => {
    const connection = await connect(slowClients.url);
    const head = requestHead('GET', '/healthz', { 'X-Padding': 'p'.repeat(40) });
    let sent = 0;
    let cut = false;
    void connection.closed.then(() => {
      cut = true;
    });
    const started = Date.now();
    while (!cut && sent < head.length && Date.now() - started < CUT_BOUND_MS) {
      await connection.write(head[sent] as string).catch(() => {});
      sent += 1;
      // One byte every 250 ms: the whole head would take far longer than the 2 s headers timeout.
      await sleep(250);
    }
    const res = await connection.response(CUT_BOUND_MS);
    expect(sent).toBeLessThan(head.length);
    // Node answers 408 when it can, else closes; either way the connection ends without a 200.
    expect(res.kind === 'closed' || res.status === 408).toBe(true);
  });

  it('cuts a client that trickles a body slower than the request timeout', async () => {
    const connection = await connect(slowClients.url);
    await connection.write(
      requestHead('POST', `/v1/signals/${'c'.repeat(64)}`, {
        'Content-Type': 'application/json',
        'Content-Length': 200,
      }),
    );
    let cut = false;
    void connection.closed.then(() => {
      cut = true;
    });
    const started = Date.now();
    while (!cut && Date.now() - started < CUT_BOUND_MS) {
      await connection.write(' ').catch(() => {});
      await sleep(250);
    }
    expect(cut).toBe(true);
  });

  it('still serves a long-poll that parks longer than the request timeout (it bounds receiving, not answering)', async () => {
    const created = await api(slowClients.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask() });
    expect(created.status).toBe(201);
    const started = Date.now();
    const res = await api(slowClients.url, 'GET', `/v1/tasks/${created.body.task.id}?wait=5`, { key: team.apiKey });
    expect(res.status).toBe(200);
    expect(res.body.task.status).toBe('delayed');
    // It parked for its whole wait, past the 3 s request timeout, and was answered normally.
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
  });
});

describe('odd request targets', () => {
  it('answers a target starting with // (once an exception that ended the process) with 404, and keeps serving', async () => {
    const connection = await connect(slowClients.url);
    await connection.write(requestHead('GET', '//%F1%85%BB%81/%C8%94/x', { Connection: 'close' }));
    const res = await connection.response(CUT_BOUND_MS);
    expect(res.kind === 'response' && res.status).toBe(404);
    expect((await api(slowClients.url, 'GET', '/healthz')).status).toBe(200);
  });

  it.each(['/v1/tokens', '/trpc/tasks.list'])('answers TRACE %s with 404, not 500', async (path) => {
    const connection = await connect(slowClients.url);
    await connection.write(requestHead('TRACE', path, { Connection: 'close', Authorization: `Bearer ${team.apiKey}` }));
    const res = await connection.response(CUT_BOUND_MS);
    expect(res.kind === 'response' && res.status).toBe(404);
  });

  it('answers a target that is not a path (asterisk form) with 400', async () => {
    const connection = await connect(slowClients.url);
    await connection.write(requestHead('OPTIONS', '*', { Connection: 'close' }));
    const res = await connection.response(CUT_BOUND_MS);
    expect(res.kind === 'response' && res.status).toBe(400);
  });
});

describe('the connection cap', () => {
  it('refuses new connections over the cap while serving /healthz on the connections it holds', async () => {
    // One keep-alive connection that will keep being served…
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const healthz = () =>
      new Promise<number>((resolve, reject) => {
        const req = http.get(`${capped.url}/healthz`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
      });
    expect(await healthz()).toBe(200);
    // …and idle connections up to the cap.
    const idle: RawConnection[] = [];
    for (let i = 0; i < MAX_CONNECTIONS - 1; i += 1) idle.push(await connect(capped.url));
    await waitFor('the server to hold the cap', async () => (await openConnections()) === MAX_CONNECTIONS);
    // Over the cap: the server drops a new connection without an answer.
    const extra = await connect(capped.url);
    await extra.write(requestHead('GET', '/healthz', {})).catch(() => {});
    const refused = await extra.response(CUT_BOUND_MS);
    expect(refused.kind).toBe('closed');
    // The connection it already holds is still served.
    expect(await healthz()).toBe(200);
    // A freed slot admits a new connection again.
    (idle.pop() as RawConnection).close();
    await waitFor('a slot to free up', async () => (await openConnections()) < MAX_CONNECTIONS);
    const after = await connect(capped.url);
    await after.write(requestHead('GET', '/healthz', { Connection: 'close' }));
    const res = await after.response(CUT_BOUND_MS);
    expect(res.kind === 'response' && res.status).toBe(200);
    agent.destroy();
  });
});
