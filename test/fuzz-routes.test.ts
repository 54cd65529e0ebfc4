import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import {
  bodyBytes,
  describeRequest,
  type FuzzContext,
  type FuzzRequest,
  fuzzRequest,
} from './helpers/fuzz-requests.ts';
import { api } from './helpers/http.ts';
import { type ClientResponse, keepAliveAgent, sendRequest } from './helpers/keep-alive-client.ts';
import { freePort, type ServerProcess, spawnServer } from './helpers/server-process.ts';
import { createTestDatabase } from './helpers/test-database.ts';

/**
 * Property-based fuzz of every public route (REST, raw callback/signal routes, tRPC single and
 * batch, the operational endpoints) against a real server process: no 5xx, the process stays up,
 * and nothing is stored for a refused request (every stored task or token row was named by a 2xx
 * answer). FUZZ_SEED=<n> replays a run; FUZZ_RUNS=<n> changes its size (10,000 by default).
 */

const SEED = Number(process.env.FUZZ_SEED ?? randomBytes(4).readUInt32BE() >>> 1);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
// Why 12: enough in flight to keep the server's core busy on a 2-core machine without starving it.
const CONCURRENCY = 12;
// Why these sizes: a body over the smallest body cap (1 MiB) may be cut off by the server closing the
// connection mid-upload, and a request head over 8 KiB by Node's header-size limit (431, then a
// closed socket); anything smaller must get an answer.
const BODY_CUT_OFF_ALLOWED_ABOVE = 1024 * 1024;
const HEAD_CUT_OFF_ALLOWED_ABOVE = 8 * 1024;
// Why 32 MiB: a created task echoes its body (≤ 1 MiB, up to 6 × that once JSON-escaped) in full; its id must be read.
const KEPT_RESPONSE_BYTES = 32 * 1024 * 1024;
const API_KEY = `async_${randomBytes(36)
  .toString('base64')
  .replace(/[^0-9A-Za-z]/g, '0')
  .slice(0, 48)}`;

let databaseUrl: string;
let server: ServerProcess;
let provider: FakeProvider;
let db: pg.Client;

beforeAll(async () => {
  [databaseUrl, provider] = await Promise.all([createTestDatabase(), startFakeProvider()]);
  server = spawnServer(
    {
      DATABASE_URL: databaseUrl,
      ASYNCQUEUE_BOOTSTRAP_API_KEY: API_KEY,
      ASYNCQUEUE_ALLOWED_CIDRS: '127.0.0.0/8',
      ASYNCQUEUE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      // The fuzz is about input handling: limits high enough that it never just measures 429s.
      ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '10000000',
      ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '10000000',
      ASYNCQUEUE_AUTH_FAILURE_LIMIT_PER_MINUTE: '10000000',
      LOG_LEVEL: 'warn',
    },
    await freePort(),
  );
  await server.waitReady(60_000);
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
}, 90_000);

afterAll(async () => {
  await db?.end();
  if (server && !server.exited()) {
    server.child.kill('SIGTERM');
    await server.waitExit(30_000).catch(() => server.child.kill('SIGKILL'));
  }
  await provider?.stop();
});

type Ledger = { tasks: Set<string>; tokens: Set<string>; deletedTokens: Set<string> };

/** Real tasks with a callback id or a signal token, and real vault tokens, for the fuzz to aim at. */
async function seedContext(ledger: Ledger): Promise<FuzzContext> {
  const ctx: FuzzContext = {
    apiKey: API_KEY,
    fakeTarget: provider.url('/ok'),
    taskIds: [],
    callbackIds: [],
    signalTokens: [],
    tokenIds: [],
  };
  const bodies = [
    { targetUrl: ctx.fakeTarget },
    { targetUrl: `${ctx.fakeTarget}?cb={asyncqueue_callback_url}` },
    { targetUrl: ctx.fakeTarget, waitForSignal: true },
  ];
  for (const body of [...bodies, ...bodies]) {
    const res = await api(server.url, 'POST', '/v1/tasks', { key: API_KEY, body });
    expect(res.status, res.text).toBe(201);
    ledger.tasks.add(res.body.task.id);
    ctx.taskIds.push(res.body.task.id);
    if (res.body.task.callbackId) ctx.callbackIds.push(res.body.task.callbackId);
    if (res.body.signalToken) ctx.signalTokens.push(res.body.signalToken);
  }
  for (const name of ['a', 'b', 'c']) {
    const res = await api(server.url, 'POST', '/v1/tokens', { key: API_KEY, body: { name, value: 'v' } });
    expect(res.status, res.text).toBe(201);
    ledger.tokens.add(res.body.token.id);
    ctx.tokenIds.push(res.body.token.id);
  }
  return ctx;
}

const parse = (text: string): any => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** Records the rows a 2xx answer stands for; returns the 5xx items inside a tRPC answer. */
function account(req: FuzzRequest, res: ClientResponse, ledger: Ledger): string[] {
  const body = parse(res.text);
  const ok = res.status >= 200 && res.status < 300;
  if (ok && req.creates === 'task' && body?.task?.id) ledger.tasks.add(body.task.id);
  if (ok && req.creates === 'token' && body?.token?.id) ledger.tokens.add(body.token.id);
  if (ok && req.creates === 'token-delete' && body?.token?.id) ledger.deletedTokens.add(body.token.id);
  if (!req.trpc) return [];
  const items: any[] = req.trpc.batch ? (Array.isArray(body) ? body : []) : [body];
  const broken: string[] = [];
  items.forEach((item, i) => {
    const name = req.trpc?.procedures[i];
    const data = item?.result?.data;
    if (data?.task?.id && name === 'tasks.create') ledger.tasks.add(data.task.id);
    if (data?.token?.id && name === 'tokens.create') ledger.tokens.add(data.token.id);
    if (data?.token?.id && name === 'tokens.delete') ledger.deletedTokens.add(data.token.id);
    const status = item?.error?.data?.httpStatus;
    if (typeof status === 'number' && status >= 500)
      broken.push(`${name}: ${status} ${JSON.stringify(item.error).slice(0, 300)}`);
  });
  return broken;
}

async function send(req: FuzzRequest, agent: ReturnType<typeof keepAliveAgent>): Promise<ClientResponse> {
  const raw = { method: req.method, path: req.path, headers: req.headers, body: bodyBytes(req.body) };
  const first = await sendRequest(server.url, raw, agent, KEPT_RESPONSE_BYTES);
  // A keep-alive socket the server had just closed fails the request before it is sent: once more.
  return first.status === 0 ? sendRequest(server.url, raw, agent, KEPT_RESPONSE_BYTES) : first;
}

describe('fuzz: every public route', () => {
  it(`${RUNS} generated requests: no 5xx, the server stays up, nothing stored for a refused request`, async () => {
    const ledger: Ledger = { tasks: new Set(), tokens: new Set(), deletedTokens: new Set() };
    const ctx = await seedContext(ledger);
    const requests = fc.sample(fuzzRequest(ctx), { numRuns: RUNS, seed: SEED });
    const failures: string[] = [];
    const counts = new Map<string, number>();
    const agent = keepAliveAgent(CONCURRENCY);
    let next = 0;
    const worker = async () => {
      // A crashed server fails every later request: stop at once and report the crash itself.
      while (next < requests.length && !server.exited()) {
        const index = next++;
        const req = requests[index] as FuzzRequest;
        const res = await send(req, agent);
        const key = `${req.route} ${res.status}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        const size = bodyBytes(req.body)?.length ?? 0;
        const head = req.path.length + JSON.stringify(req.headers).length;
        const cutOffOk = res.status === 0 && (size > BODY_CUT_OFF_ALLOWED_ABOVE || head > HEAD_CUT_OFF_ALLOWED_ABOVE);
        if (res.status >= 500 || (res.status <= 0 && !cutOffOk)) {
          failures.push(`#${index} → ${res.status} ${res.error ?? res.text.slice(0, 200)} :: ${describeRequest(req)}`);
        }
        for (const item of account(req, res, ledger))
          failures.push(`#${index} tRPC item ${item} :: ${describeRequest(req)}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    process.stderr.write(`fuzz seed ${SEED}: ${JSON.stringify(Object.fromEntries([...counts].sort()))}\n`);

    const replay = `seed ${SEED} (replay: FUZZ_SEED=${SEED} npx vitest run test/fuzz-routes.test.ts)`;
    const byIndex = failures.sort((a, b) => Number(a.slice(1, a.indexOf(' '))) - Number(b.slice(1, b.indexOf(' '))));
    // The requests that were unanswered when it died include the one that killed it.
    const died = `the server died after request #${next}, ${replay}\n${server.describe()}\n${byIndex.slice(-12).join('\n')}`;
    expect(server.exited(), died).toBe(false);
    expect(byIndex.slice(0, 30), `${failures.length} failing requests, ${replay}`).toEqual([]);

    // Still up and still serving.
    expect((await api(server.url, 'GET', '/healthz')).status).toBe(200);
    const after = await api(server.url, 'POST', '/v1/tasks', { key: API_KEY, body: { targetUrl: ctx.fakeTarget } });
    expect(after.status, after.text).toBe(201);
    ledger.tasks.add(after.body.task.id);

    // Every stored row was announced by a 2xx; a refused request left nothing behind.
    const tasks = (await db.query<{ id: string }>('select id from tasks')).rows.map((r) => r.id);
    expect(
      tasks.filter((id) => !ledger.tasks.has(id)),
      `tasks stored without a 2xx, ${replay}`,
    ).toEqual([]);
    const tokens = (
      await db.query<{ id: string; deleted: boolean }>('select id, deleted_at is not null as deleted from vault_tokens')
    ).rows;
    expect(
      tokens.filter((t) => !ledger.tokens.has(t.id)).map((t) => t.id),
      `tokens stored without a 2xx, ${replay}`,
    ).toEqual([]);
    expect(
      tokens.filter((t) => t.deleted && !ledger.deletedTokens.has(t.id)).map((t) => t.id),
      `tokens deleted without a 2xx, ${replay}`,
    ).toEqual([]);
    expect(tasks.length).toBe(ledger.tasks.size);
    // Why 240 s: about 20 s on an idle 2-core machine; the rest is for a CI machine running other files.
  }, 240_000);
});
