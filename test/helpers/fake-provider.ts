import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceivedRequest = {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
};

/**
 * A fake AI provider on loopback. The path picks the behaviour:
 *   /ok                      200 {"ok":true,"id":"gen_1"}
 *   /slow?ms=N               200 {"ok":true} after N ms (a call still in flight when something else happens)
 *   /fail?times=N&key=K      500 the first N calls for key K, then 200
 *   /status/:code            answers that status (e.g. /status/400, /status/503)
 *   /retry-after?s=S&key=K   429 with Retry-After: S the first time for key K, then 200
 *   /hang                    never answers (the attempt must time out)
 *   /redirect?to=URL&code=C  3xx to URL
 *   /big?bytes=N             streams N bytes of 'x'
 *   /callback-first          POSTs {"status":"done"} to the URL in the X-Callback header, THEN answers 200
 *   /callback-twice          POSTs to the X-Callback URL twice (concurrently), then answers 200
 */
export async function startFakeProvider() {
  const received: ReceivedRequest[] = [];
  const counters = new Map<string, number>();
  const callbackResults: number[] = [];
  const hanging = new Set<http.ServerResponse>();
  const bump = (key: string) => {
    const n = (counters.get(key) ?? 0) + 1;
    counters.set(key, n);
    return n;
  };
  const postCallback = async (url: string | undefined) => {
    if (!url) return;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"status":"done","output":"from-callback"}',
    });
    callbackResults.push(res.status);
    await res.text();
  };

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    received.push({
      method: req.method ?? '',
      path: url.pathname + url.search,
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
      at: Date.now(),
    });
    const q = (name: string) => url.searchParams.get(name) ?? '';
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const path = url.pathname;
    if (path === '/ok') return json(200, { ok: true, id: 'gen_1' });
    if (path === '/slow') return void setTimeout(() => json(200, { ok: true }), Number(q('ms')));
    if (path === '/fail')
      return bump(`fail:${q('key')}`) <= Number(q('times')) ? json(500, { error: 'boom' }) : json(200, { ok: true });
    if (path.startsWith('/status/')) return json(Number(path.slice(8)), { status: Number(path.slice(8)) });
    if (path === '/retry-after') {
      return bump(`ra:${q('key')}`) === 1
        ? json(429, { error: 'slow down' }, { 'retry-after': q('s') })
        : json(200, { ok: true });
    }
    if (path === '/hang') {
      hanging.add(res);
      return;
    }
    if (path === '/redirect') {
      res.writeHead(Number(q('code') || 302), { location: q('to') });
      return res.end();
    }
    if (path === '/big') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const total = Number(q('bytes'));
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          const part = chunk.subarray(0, Math.min(chunk.length, total - sent));
          sent += part.length;
          if (!res.write(part)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => {});
      return pump();
    }
    if (path === '/callback-first') {
      await postCallback(req.headers['x-callback'] as string | undefined);
      return json(200, { accepted: true });
    }
    if (path === '/callback-twice') {
      const target = req.headers['x-callback'] as string | undefined;
      await Promise.all([postCallback(target), postCallback(target)]);
      return json(200, { accepted: true });
    }
    json(404, { error: 'no such fake route' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => `${base}${path}`,
    received,
    callbackResults,
    requestsTo: (prefix: string) => received.filter((r) => r.path.startsWith(prefix)),
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FakeProvider = Awaited<ReturnType<typeof startFakeProvider>>;
