import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReceivedWebhook = { rawBody: string; headers: http.IncomingHttpHeaders };

/** Why these delays: long enough to watch each status change live, short enough for a demo. */
const CALLBACK_AFTER_MS = 2_000;
const QUEUED_FOR_MS = 1_500;
const DONE_AFTER_MS = 4_000;

/**
 * A pretend AI provider for `npm run demo`, in the two styles real ones use:
 *   POST /v1/images              202 {id}; ~2 s later POSTs the result to the X-Callback-Url header
 *   POST /v1/transcriptions      202 {id}; GET /v1/transcriptions/:id says queued → running → done over ~4 s
 *   POST /webhooks               collects AsyncQueue's completion webhooks (raw body + headers)
 */
export async function startDemoProvider(host: string) {
  const webhooks: ReceivedWebhook[] = [];
  const jobs = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const webhookListeners = new Set<() => void>();
  let seq = 0;

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://demo');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };

    if (req.method === 'POST' && url.pathname === '/v1/images') {
      const id = `img_${++seq}`;
      const callbackUrl = req.headers['x-callback-url'];
      const prompt = (JSON.parse(rawBody || '{}') as { prompt?: string }).prompt ?? '';
      if (typeof callbackUrl === 'string') {
        const timer = setTimeout(() => {
          timers.delete(timer);
          const result = { id, status: 'succeeded', output: { url: `https://cdn.example.com/${id}.png`, prompt } };
          fetch(callbackUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(result),
          }).catch((error: unknown) => process.stderr.write(`demo provider: callback failed: ${String(error)}\n`));
        }, CALLBACK_AFTER_MS);
        timers.add(timer);
      }
      return json(202, { id, status: 'queued' });
    }
    if (req.method === 'POST' && url.pathname === '/v1/transcriptions') {
      const id = `job_${++seq}`;
      jobs.set(id, Date.now());
      return json(202, { id, status: 'queued' });
    }
    const job = /^\/v1\/transcriptions\/([\w-]+)$/.exec(url.pathname);
    if (req.method === 'GET' && job) {
      const startedAt = jobs.get(job[1] ?? '');
      if (startedAt === undefined) return json(404, { error: 'no such job' });
      const age = Date.now() - startedAt;
      if (age < QUEUED_FOR_MS) return json(200, { id: job[1], status: 'queued' });
      if (age < DONE_AFTER_MS)
        return json(200, { id: job[1], status: 'running', percent: Math.round((age / DONE_AFTER_MS) * 100) });
      return json(200, { id: job[1], status: 'done', output: 'Hello from the demo provider: your audio, as text.' });
    }
    if (req.method === 'POST' && url.pathname === '/webhooks') {
      webhooks.push({ rawBody, headers: req.headers });
      for (const listener of webhookListeners) listener();
      res.writeHead(204);
      return res.end();
    }
    json(404, { error: 'no such route' });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const base = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    base,
    webhooks,
    /** Resolves once `count` webhooks arrived, or after `timeoutMs` with whatever arrived. */
    waitForWebhooks(count: number, timeoutMs: number): Promise<ReceivedWebhook[]> {
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          webhookListeners.delete(check);
          resolve([...webhooks]);
        };
        const check = () => {
          if (webhooks.length >= count) done();
        };
        const timer = setTimeout(done, timeoutMs);
        webhookListeners.add(check);
        check();
      });
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type DemoProvider = Awaited<ReturnType<typeof startDemoProvider>>;
