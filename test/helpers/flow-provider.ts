import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake provider with a concurrency meter, for flow-control tests. Paths:
 *   POST /job?ms=N        accepts a job (200 at once) and POSTs its callback N ms later, to the URL
 *                         in the request body's "callback" field; the job counts as running from
 *                         the submit until that callback is sent (a provider's concurrent-job limit)
 *   POST /call?ms=N       answers 200 after N ms; counts as running while the request is open
 *   POST /limited?max=K&ms=N&retryAfter=S
 *                         like /call, but answers 429 with Retry-After: S when K calls already run
 * Every request is recorded with its task id, arrival time and the running count it saw.
 */
export async function startFlowProvider() {
  let running = 0;
  let maxRunning = 0;
  const submits: { taskId: string; at: number; path: string; status: number }[] = [];
  const callbacks: number[] = [];
  const begin = () => {
    running += 1;
    maxRunning = Math.max(maxRunning, running);
  };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const ms = Number(url.searchParams.get('ms') ?? '0');
    const taskId = String(req.headers['x-asyncqueue-task-id'] ?? '');
    const record = (status: number) => submits.push({ taskId, at: Date.now(), path: url.pathname, status });
    if (url.pathname === '/job') {
      const { callback } = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { callback?: string };
      begin();
      record(200);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":true}');
      await sleep(ms);
      running -= 1;
      const sent = await fetch(String(callback), { method: 'POST', body: '{"status":"done"}' }).catch(() => null);
      callbacks.push(sent?.status ?? 0);
      await sent?.text();
      return;
    }
    if (url.pathname === '/limited' && running >= Number(url.searchParams.get('max'))) {
      record(429);
      res.writeHead(429, { 'retry-after': url.searchParams.get('retryAfter') ?? '1' }).end('{"error":"throttled"}');
      return;
    }
    begin();
    record(200);
    await sleep(ms);
    running -= 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    submits,
    callbacks,
    running: () => running,
    maxRunning: () => maxRunning,
    resetMax() {
      maxRunning = running;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type FlowProvider = Awaited<ReturnType<typeof startFlowProvider>>;
