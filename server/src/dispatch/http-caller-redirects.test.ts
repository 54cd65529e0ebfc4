import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyDispatch } from '../../../sdk/src/verify-dispatch.ts';
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
import { dispatchHeaders, dispatchHopPolicy } from './outbound-headers.ts';
import { classifyOutcome } from './outcome.ts';

let caller: HttpCaller;
let origin: TestServer;
let other: TestServer;
let canary: TestServer;
let base: string;
let otherBase: string;
const log: Received[] = [];
const otherLog: Received[] = [];

/** `/to/<status>?<location>` redirects with that status; `/hop/<n>` redirects n more times. */
function route(_req: http.IncomingMessage, res: http.ServerResponse, received: Received): void {
  const url = new URL(received.url, 'http://test');
  const [, kind, arg = ''] = url.pathname.split('/');
  if (kind === 'to') {
    const location = decodeURIComponent(url.search.slice(1));
    res.writeHead(Number(arg), location === '' ? {} : { location });
    res.end('moved');
  } else if (kind === 'hop' && Number(arg) > 0) {
    res.writeHead(302, { location: `/hop/${Number(arg) - 1}` });
    res.end();
  } else {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ method: received.method, body: received.body }));
  }
}

const to = (status: number, location: string) => `${base}/to/${status}?${encodeURIComponent(location)}`;

beforeAll(async () => {
  caller = loopbackCaller();
  origin = await startServer('127.0.0.1', recording(log, route));
  other = await startServer('127.0.0.2', recording(otherLog, route));
  canary = await startServer('127.0.0.1', (_req, res) => res.end('canary'));
  base = `http://127.0.0.1:${origin.port}`;
  otherBase = `http://127.0.0.2:${other.port}`;
});

afterAll(async () => {
  await caller.close();
  await Promise.all([origin.close(), other.close(), canary.close()]);
});

const POST = { method: 'POST', body: '{"x":1}', headers: { 'Content-Type': 'application/json' } } as const;

describe('createHttpCaller: redirects', () => {
  it.each([
    [301, 'POST', 'GET', ''],
    [302, 'POST', 'GET', ''],
    [303, 'POST', 'GET', ''],
    [303, 'PUT', 'GET', ''],
    [302, 'PUT', 'PUT', '{"x":1}'],
    [307, 'POST', 'POST', '{"x":1}'],
    [308, 'PATCH', 'PATCH', '{"x":1}'],
  ] as const)('%i turns %s into %s', async (status, method, expectedMethod, expectedBody) => {
    const result = await caller.call(outbound(to(status, '/final'), { ...POST, method }));
    const response = responseOf(result);
    expect(response).toMatchObject({ statusCode: 200, redirects: 1 });
    const final = log.at(-1) as Received;
    expect(final).toMatchObject({ url: '/final', method: expectedMethod, body: expectedBody });
    expect(final.headers['content-type']).toBe(expectedBody === '' ? undefined : 'application/json');
  });

  it('keeps credentials on a same-origin hop', async () => {
    await caller.call(outbound(to(302, '/final'), { headers: { Authorization: 'Bearer same-origin' } }));
    expect(log.at(-1)?.headers.authorization).toBe('Bearer same-origin');
  });

  it('follows 5 redirects', async () => {
    const response = responseOf(await caller.call(outbound(`${base}/hop/5`)));
    expect(response).toMatchObject({ statusCode: 200, redirects: 5 });
  });

  it('refuses a 6th redirect without requesting it', async () => {
    const before = origin.hits();
    const result = await caller.call(outbound(`${base}/hop/6`));
    expect(result).toMatchObject({ ok: false, failure: { kind: 'too_many_redirects' } });
    expect(origin.hits() - before).toBe(6);
    expect(classifyOutcome(result, Date.now()).kind).toBe('fail');
  });

  it('returns a 3xx without Location as it is (a failure for the classifier)', async () => {
    const response = responseOf(await caller.call(outbound(to(302, ''))));
    expect(response).toMatchObject({ statusCode: 302, body: 'moved', redirects: 0 });
    expect(classifyOutcome({ ok: true, response }, Date.now()).kind).toBe('fail');
  });

  it('returns a 304 as it is even with a Location', async () => {
    const response = responseOf(await caller.call(outbound(to(304, '/final'))));
    expect(response).toMatchObject({ statusCode: 304, redirects: 0 });
  });

  it('refuses a redirect to another scheme → bad_redirect', async () => {
    const result = await caller.call(outbound(to(302, 'file:///etc/passwd')));
    expect(result).toMatchObject({ ok: false, failure: { kind: 'bad_redirect' } });
    expect(classifyOutcome(result, Date.now()).kind).toBe('fail');
  });

  it('drops credentials on a cross-origin hop (127.0.0.1 → 127.0.0.2), keeping the rest', async () => {
    const headers = {
      ...POST.headers,
      Authorization: 'Bearer leak-me-not',
      Cookie: 'session=leak',
      'Proxy-Authorization': 'Basic leak',
      'X-Api-Key': 'leak-key',
      'X-Auth-Token': 'leak-token',
      'X-Client-Secret': 'leak-secret',
      'X-Custom': 'kept',
    };
    const result = await caller.call(outbound(to(307, `${otherBase}/final`), { ...POST, headers }));
    expect(responseOf(result)).toMatchObject({ statusCode: 200, redirects: 1 });
    const received = otherLog.at(-1) as Received;
    expect(received).toMatchObject({ method: 'POST', body: '{"x":1}' });
    expect(received.headers).toMatchObject({ 'x-custom': 'kept', 'content-type': 'application/json' });
    for (const name of ['authorization', 'cookie', 'proxy-authorization', 'x-api-key', 'x-auth-token']) {
      expect(received.headers[name]).toBeUndefined();
    }
    expect(received.headers['x-client-secret']).toBeUndefined();
    expect(log.at(-1)?.headers.authorization).toBe('Bearer leak-me-not');
  });

  it('drops a vault-resolved header on a cross-origin hop whatever its name (X-Custom: tok_… resolved)', async () => {
    const headers = { ...POST.headers, 'X-Custom': 'resolved-vault-secret', 'X-Plain': 'kept' };
    const hopPolicy = { vaultHeaders: ['X-Custom'] };
    await caller.call(outbound(to(307, `${otherBase}/final`), { ...POST, headers, hopPolicy }));
    const received = otherLog.at(-1) as Received;
    expect(received.headers['x-custom']).toBeUndefined();
    expect(received.headers['x-plain']).toBe('kept');
    expect(log.at(-1)?.headers['x-custom']).toBe('resolved-vault-secret');
    // Same origin: a vault value is the target's own credential and stays.
    await caller.call(outbound(to(307, '/final'), { ...POST, headers, hopPolicy }));
    expect(log.at(-1)).toMatchObject({ url: '/final' });
    expect(log.at(-1)?.headers['x-custom']).toBe('resolved-vault-secret');
  });

  it('signs each hop for its own method, URL and body (verifyDispatch on the second hop)', async () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const first = to(303, `${otherBase}/final`);
    const headers = dispatchHeaders({
      userHeaders: POST.headers,
      taskId: 't-1',
      attempt: 1,
      method: 'POST',
      url: first,
      body: POST.body,
      secrets: [secret],
      version: '0.0.0',
      unixSeconds: Math.floor(Date.now() / 1000),
    });
    const hopPolicy = dispatchHopPolicy([secret], []);
    responseOf(await caller.call(outbound(first, { ...POST, headers, hopPolicy })));
    const hop1 = log.at(-1) as Received;
    const hop2 = otherLog.at(-1) as Received;
    expect(() => verifyDispatch(hop1.body, hop1.headers, secret, { method: 'POST', url: first })).not.toThrow();
    // 303 turned the POST into a GET without a body: that is what the second hop is signed for.
    expect(hop2).toMatchObject({ method: 'GET', body: '' });
    const finalUrl = `${otherBase}/final`;
    expect(() => verifyDispatch('', hop2.headers, secret, { method: 'GET', url: finalUrl })).not.toThrow();
    expect(() => verifyDispatch(POST.body, hop2.headers, secret, { method: 'POST', url: first })).toThrow();
  });
});

describe('createHttpCaller: the network guard on every hop (allow-list 127.0.0.0/8)', () => {
  it.each([
    ['a private address', () => `http://10.0.0.1:${canary.port}/`, 'private'],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data/', 'link-local'],
    ['a name resolving to loopback and a private address', () => `http://rebind.test:${canary.port}/`, 'private'],
  ])('refuses a redirect to %s; the canary is never hit', async (_label, target, range) => {
    const result = await caller.call(outbound(to(302, target()), { timeoutMs: 5_000 }));
    expect(result).toMatchObject({ ok: false, failure: { kind: 'network_guard' } });
    if (result.ok) return;
    expect(result.failure.message).toContain('network guard');
    expect(result.failure.message).toContain(range);
    expect(result.failure.durationMs).toBeLessThan(1_000);
    expect(canary.hits()).toBe(0);
    const outcome = classifyOutcome(result, Date.now());
    expect(outcome).toMatchObject({ kind: 'fail', reason: expect.stringContaining('network guard') });
  });
});
