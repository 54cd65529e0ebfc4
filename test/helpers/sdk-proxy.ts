import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxiedRequest = { method: string; path: string; body: string };

/**
 * How the proxy answers the next `times` requests that `match`:
 *   before      answer `status` (default 503, text/plain) without reaching the server
 *   after       forward to the server, then answer 503 instead of its response (a lost answer)
 *   hang        never answer
 */
export type FaultRule = {
  match: (req: ProxiedRequest) => boolean;
  mode: 'before' | 'after' | 'hang';
  times: number;
  status?: number;
  headers?: Record<string, string>;
};

const HOP_BY_HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

/** A reverse proxy in front of a test app that injects faults, to prove the SDK's retry rules. */
export async function startFaultProxy(upstream: string) {
  const requests: ProxiedRequest[] = [];
  const lostAnswers: string[] = [];
  const rules: FaultRule[] = [];
  const hanging = new Set<http.ServerResponse>();

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const seen = { method: req.method ?? 'GET', path: req.url ?? '/', body: Buffer.concat(chunks).toString() };
    requests.push(seen);
    const rule = rules.find((r) => r.times > 0 && r.match(seen));
    if (rule) rule.times -= 1;
    if (rule?.mode === 'hang') {
      hanging.add(res);
      return;
    }
    if (rule?.mode === 'before') {
      res.writeHead(rule.status ?? 503, { 'content-type': 'text/plain', ...rule.headers });
      res.end('injected by the test proxy');
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k, v]) => !HOP_BY_HOP.has(k) && typeof v === 'string'),
    ) as Record<string, string>;
    try {
      const upstreamRes = await fetch(`${upstream}${seen.path}`, {
        method: seen.method,
        headers,
        body: seen.method === 'GET' || seen.method === 'HEAD' ? undefined : seen.body,
      });
      const text = await upstreamRes.text();
      if (rule?.mode === 'after') {
        lostAnswers.push(text);
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('answer lost by the test proxy');
        return;
      }
      const out: Record<string, string> = {};
      upstreamRes.headers.forEach((value, key) => {
        if (!HOP_BY_HOP.has(key) && key !== 'content-encoding') out[key] = value;
      });
      res.writeHead(upstreamRes.status, out);
      res.end(text);
    } catch {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('upstream failed');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    lostAnswers,
    fail(rule: FaultRule) {
      rules.push(rule);
    },
    /** Requests whose path starts with `prefix` (e.g. '/trpc/tasks.get'). */
    to: (prefix: string) => requests.filter((r) => r.path.startsWith(prefix)),
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FaultProxy = Awaited<ReturnType<typeof startFaultProxy>>;

export type RawDelivery = { rawBody: string; headers: http.IncomingHttpHeaders };

/** Captures webhook deliveries exactly as sent: the raw body bytes and every header. */
export async function startRawWebhookReceiver() {
  const deliveries: RawDelivery[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    deliveries.push({ rawBody: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
    res.writeHead(204);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    deliveries,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
