import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { rawConnect } from './helpers/raw-http.ts';
import { BASE_TASK, countTasks } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

/** Small, so that a body over the limit (this + the 64 KiB envelope allowance) is quick to send. */
const MAX_BODY_BYTES = 1024;
let t: TestApp;
let team: TestTeam;

beforeAll(async () => {
  t = await startTestApp({ ASYNCQUEUE_MAX_BODY_BYTES: String(MAX_BODY_BYTES) });
  team = await t.newTeam();
});
afterAll(() => t.stop());

const post = (path: string, rawBody: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}) =>
  fetch(`${t.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${team.apiKey}`, 'content-type': 'application/json', ...headers },
    body: rawBody,
  });

describe('the tRPC transport (fetch handler for plain calls, stock adapter for the rest)', () => {
  it('answers a create with 201, the rate-limit headers and the task, in one body with a Content-Length', async () => {
    const res = await post('/trpc/tasks.create', JSON.stringify(BASE_TASK));
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-ratelimit-limit')).not.toBeNull();
    const text = await res.text();
    expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
    const body = JSON.parse(text) as { result: { data: { task: { id: string; targetUrl: string } } } };
    expect(body.result.data.task.targetUrl).toBe(BASE_TASK.targetUrl);
  });

  it('refuses a body over the limit with 413 in tRPC’s shape, and stores nothing', async () => {
    const fresh = await t.newTeam();
    const big = JSON.stringify({ ...BASE_TASK, body: 'x'.repeat(70 * 1024) });
    const res = await fetch(`${t.url}/trpc/tasks.create`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fresh.apiKey}`, 'content-type': 'application/json' },
      body: big,
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { data: { code: string; aq: { code: string } } } };
    expect(body.error.data.code).toBe('PAYLOAD_TOO_LARGE');
    expect(body.error.data.aq.code).toBe('payload_too_large');
    expect(await countTasks(t.url, fresh.apiKey)).toBe(0);
  });

  it('reads a JSON body that starts with a UTF-8 byte order mark, as the stock adapter does', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const res = await post(
      '/trpc/tasks.create',
      new Uint8Array(Buffer.concat([bom, Buffer.from(JSON.stringify(BASE_TASK))])),
    );
    expect(res.status).toBe(201);
  });

  it('streams a jsonl batch (trpc-accept: application/jsonl) through the stock adapter', async () => {
    const fresh = await t.newTeam();
    const res = await fetch(`${t.url}/trpc/tasks.create,tasks.create?batch=1`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${fresh.apiKey}`,
        'content-type': 'application/json',
        'trpc-accept': 'application/jsonl',
      },
      body: JSON.stringify({ 0: BASE_TASK, 1: BASE_TASK }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    const text = await res.text();
    expect(text.split('\n').filter((line) => line.includes(BASE_TASK.targetUrl))).toHaveLength(2);
    expect(await countTasks(t.url, fresh.apiKey)).toBe(2);
  });

  it('answers a form-data call with tRPC’s own 4xx, never a 500', async () => {
    const res = await post('/trpc/tasks.create', '--x--\r\n', { 'content-type': 'multipart/form-data; boundary=x' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('serves a query by GET with its input in the query string', async () => {
    const input = encodeURIComponent(JSON.stringify({ limit: 1 }));
    const res = await api(t.url, 'GET', `/trpc/tasks.list?input=${input}`, { key: team.apiKey });
    expect(res.status).toBe(200);
    expect(res.body.result.data.pagination.limit).toBe(1);
  });

  it.each(['1.2.3.256', 'a:99999'])(
    'answers a call whose Host (%s) makes no URL as the stock adapter: 400',
    async (host) => {
      const connection = await rawConnect(t.url);
      try {
        const body = JSON.stringify(BASE_TASK);
        await connection.write(
          `POST /trpc/tasks.create HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${team.apiKey}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        const res = await connection.response(10_000);
        expect(res.kind === 'response' && res.status).toBe(400);
      } finally {
        connection.close();
      }
    },
  );
});
