import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpCaller } from './http-caller.ts';
import {
  loopbackCaller,
  outbound,
  type Received,
  recording,
  responseOf,
  startServer,
  type TestServer,
} from './http-caller-test-support.ts';
import { dispatchHeaders } from './outbound-headers.ts';
import { classifyOutcome } from './outcome.ts';

const MIB = 1024 * 1024;
// Why: short enough to keep the suite fast, long enough that a loaded CI machine answers real calls.
const SHORT_TIMEOUT_MS = 300;
// Why: timer and scheduling slack on a busy 2-core machine; still far below any hang.
const TIMEOUT_MARGIN_MS = 700;
const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

let caller: HttpCaller;
let server: TestServer;
let base: string;
const log: Received[] = [];
const stalled: http.ServerResponse[] = [];
const truncation = { closed: Promise.resolve(), bytesOffered: 0 };

/** Routes of the one test server. */
function route(req: http.IncomingMessage, res: http.ServerResponse, received: Received): void {
  const path = received.url;
  if (path === '/hello') {
    res.setHeader('x-multi', ['a', 'b']);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-single': 'one' });
    res.end('héllo wörld');
  } else if (path === '/echo') {
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ method: received.method }));
  } else if (path.startsWith('/status/')) {
    const [, , code = '500', retryAfter] = path.split('/');
    res.writeHead(Number(code), retryAfter ? { 'retry-after': decodeURIComponent(retryAfter) } : {});
    res.end('status');
  } else if (path === '/never') {
    stalled.push(res);
  } else if (path === '/stall-body') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('the beginning and then nothing');
    stalled.push(res);
  } else if (path === '/big') {
    streamBig(req, res, 3 * MIB);
  } else if (path === '/exact') {
    res.end('x'.repeat(1024));
  } else {
    res.writeHead(404).end();
  }
}

/** Streams `total` bytes of 'a' with back-pressure; records when the connection closes. */
function streamBig(req: http.IncomingMessage, res: http.ServerResponse, total: number): void {
  truncation.closed = new Promise((resolve) => req.socket.once('close', resolve));
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(total) });
  const chunk = Buffer.alloc(64 * 1024, 'a');
  const pump = () => {
    while (truncation.bytesOffered < total && !res.destroyed) {
      truncation.bytesOffered += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

beforeAll(async () => {
  caller = loopbackCaller();
  server = await startServer('127.0.0.1', recording(log, route));
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  for (const res of stalled) res.destroy();
  await caller.close();
  await server.close();
});

describe('createHttpCaller: responses', () => {
  it('returns status, UTF-8 body and lower-case headers with repeated values joined', async () => {
    const response = responseOf(await caller.call(outbound(`${base}/hello`)));
    expect(response).toMatchObject({ statusCode: 200, body: 'héllo wörld', bodyTruncated: false, redirects: 0 });
    expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(response.headers['x-single']).toBe('one');
    expect(response.headers['x-multi']).toBe('a, b');
    expect(response.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('sends a POST body with the dispatch headers, and the signature verifies', async () => {
    const body = JSON.stringify({ prompt: 'a cat', n: 1 });
    const unixSeconds = Math.floor(Date.now() / 1000);
    const headers = dispatchHeaders({
      userHeaders: { 'Content-Type': 'application/json', Authorization: 'Bearer sk-provider-123' },
      taskId: '0190a0b0-0000-7000-8000-000000000001',
      attempt: 2,
      method: 'POST',
      url: `${base}/echo`,
      body,
      secrets: [SECRET],
      version: '0.1.0',
      unixSeconds,
    });
    const response = responseOf(await caller.call(outbound(`${base}/echo`, { method: 'POST', headers, body })));
    expect(response.statusCode).toBe(201);
    const received = log.at(-1) as Received;
    expect(received).toMatchObject({ method: 'POST', url: '/echo', body });
    expect(received.headers).toMatchObject({
      'content-type': 'application/json',
      authorization: 'Bearer sk-provider-123',
      'user-agent': 'AsyncQueue/0.1.0',
      'x-asyncqueue-task-id': '0190a0b0-0000-7000-8000-000000000001',
      'x-asyncqueue-attempt': '2',
    });
    const secretBytes = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const key = createHmac('sha256', secretBytes).update('asyncqueue-dispatch-v1').digest();
    const expected = createHmac('sha256', key).update(`${unixSeconds}.POST.${base}/echo.${body}`).digest('hex');
    expect(received.headers['x-asyncqueue-signature']).toBe(`t=${unixSeconds},v1=${expected}`);
  });

  it('never sends a body with GET', async () => {
    await caller.call(outbound(`${base}/echo`, { method: 'GET', body: 'must not be sent' }));
    const received = log.at(-1) as Received;
    expect(received.method).toBe('GET');
    expect(received.body).toBe('');
    expect(received.headers['content-length']).toBeUndefined();
    expect(received.headers['transfer-encoding']).toBeUndefined();
  });

  it('reuses pooled connections for later calls', async () => {
    await caller.call(outbound(`${base}/hello`));
    const seen = new Set(log.map((received) => received.remotePort));
    // undici hands the connection back to the pool a tick after the body ends.
    await sleep(20);
    await caller.call(outbound(`${base}/hello`));
    expect(seen.has(log.at(-1)?.remotePort)).toBe(true);
  });
});

describe('createHttpCaller: classification of real responses', () => {
  it('500 with Retry-After in seconds → retry after exactly that', async () => {
    const result = await caller.call(outbound(`${base}/status/500/7`));
    expect(classifyOutcome(result, Date.now())).toEqual({ kind: 'retry', reason: 'HTTP 500', retryAfterMs: 7_000 });
  });

  it('429 with Retry-After as an HTTP date → retry after the time left', async () => {
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 120_000);
    const result = await caller.call(outbound(`${base}/status/429/${encodeURIComponent(at.toUTCString())}`));
    const now = Date.now();
    const outcome = classifyOutcome(result, now);
    expect(outcome).toEqual({ kind: 'retry', reason: 'HTTP 429', retryAfterMs: at.getTime() - now });
  });

  it('503 without Retry-After → retry with no delay of its own; 404 → fail', async () => {
    expect(classifyOutcome(await caller.call(outbound(`${base}/status/503`)), Date.now())).toEqual({
      kind: 'retry',
      reason: 'HTTP 503',
      retryAfterMs: null,
    });
    const notFound = await caller.call(outbound(`${base}/status/404`));
    expect(classifyOutcome(notFound, Date.now())).toEqual({ kind: 'fail', reason: 'HTTP 404' });
  });
});

describe('createHttpCaller: limits', () => {
  it('times out a server that never answers within timeoutMs', async () => {
    const started = performance.now();
    const result = await caller.call(outbound(`${base}/never`, { timeoutMs: SHORT_TIMEOUT_MS }));
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ ok: false, failure: { kind: 'timeout', message: 'Timed out after 300 ms' } });
    expect(elapsed).toBeGreaterThanOrEqual(SHORT_TIMEOUT_MS - 5);
    expect(elapsed).toBeLessThan(SHORT_TIMEOUT_MS + TIMEOUT_MARGIN_MS);
    expect(classifyOutcome(result, Date.now()).kind).toBe('retry');
  });

  it('times out a server that sends headers then stalls the body', async () => {
    const started = performance.now();
    const result = await caller.call(outbound(`${base}/stall-body`, { timeoutMs: SHORT_TIMEOUT_MS }));
    expect(result).toMatchObject({ ok: false, failure: { kind: 'timeout' } });
    expect(performance.now() - started).toBeLessThan(SHORT_TIMEOUT_MS + TIMEOUT_MARGIN_MS);
  });

  it('times out a DNS look-up slower than timeoutMs', async () => {
    const started = performance.now();
    const result = await caller.call(outbound('http://slow.test:9/', { timeoutMs: SHORT_TIMEOUT_MS }));
    expect(result).toMatchObject({ ok: false, failure: { kind: 'timeout' } });
    expect(performance.now() - started).toBeLessThan(SHORT_TIMEOUT_MS + TIMEOUT_MARGIN_MS);
  });

  it('cuts a 3 MiB body at a 1 MiB cap and drops the connection', async () => {
    const response = responseOf(await caller.call(outbound(`${base}/big`, { maxResponseBytes: MIB })));
    expect(response.bodyTruncated).toBe(true);
    expect(Buffer.byteLength(response.body)).toBe(MIB);
    expect(response.body).toBe('a'.repeat(MIB));
    // The server's keep-alive would hold the socket for 5 s: a close well before means we dropped it.
    const closed = await Promise.race([truncation.closed.then(() => true), sleep(2_000).then(() => false)]);
    expect(closed).toBe(true);
  });

  it('keeps a body exactly at the cap whole', async () => {
    const response = responseOf(await caller.call(outbound(`${base}/exact`, { maxResponseBytes: 1024 })));
    expect(response).toMatchObject({ bodyTruncated: false, body: 'x'.repeat(1024) });
  });
});

describe('createHttpCaller: connection failures', () => {
  it('connection refused → network', async () => {
    const port = await freePort();
    const result = await caller.call(
      outbound(`http://127.0.0.1:${port}/`, { headers: { Authorization: 'Bearer s3cr3t-v4lue' } }),
    );
    expect(result).toMatchObject({ ok: false, failure: { kind: 'network' } });
    if (result.ok) return;
    expect(result.failure.message).toContain('ECONNREFUSED');
    expect(result.failure.message).not.toContain('s3cr3t');
    expect(classifyOutcome(result, Date.now()).kind).toBe('retry');
  });

  it('unknown host → dns', async () => {
    const result = await caller.call(outbound('http://nowhere.test/'));
    expect(result).toMatchObject({ ok: false, failure: { kind: 'dns' } });
    if (result.ok) return;
    expect(result.failure.message).toContain('ENOTFOUND');
    expect(classifyOutcome(result, Date.now()).kind).toBe('retry');
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
