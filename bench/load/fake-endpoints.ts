import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { nowMs } from '../lib/stats.ts';

/**
 * The loopback "provider" and "webhook receiver" of the AsyncQueue phases, inside the load generator process so
 * that send and receive times come from one clock.
 *   /ok?s=N        200 at once; records when sample N arrived (pickup latency)
 *   /cb?u=URL      200 at once, then POSTs {"status":"done"} to URL (the task's callback URL)
 *   /hold          200 at once, no callback (the bench posts it itself)
 *   /webhook       200; counts deliveries per webhook-id header (duplicate gate)
 */
export type Endpoints = {
  url: string;
  /** Resolves when sample `s` reaches /ok, with its arrival time (nowMs). */
  arrival(sample: string): Promise<number>;
  webhooks(): { received: number; unique: number; duplicates: number; lastAt: number };
  callbacks(): { sent: number; failed: number };
  /** Clears callback counts and arrivals; webhook counts stay cumulative (duplicates span runs). */
  resetCounters(): void;
  close(): Promise<void>;
};

export async function startEndpoints(): Promise<Endpoints> {
  const arrivals = new Map<string, number>();
  const arrivalWaiters = new Map<string, (at: number) => void>();
  const webhookIds = new Map<string, number>();
  let webhookLastAt = 0;
  let callbacksSent = 0;
  let callbacksFailed = 0;
  const callbackPools = new Map<string, Pool>();

  const postCallback = async (target: string) => {
    const url = new URL(target);
    let pool = callbackPools.get(url.origin);
    if (!pool) {
      pool = new Pool(url.origin, { connections: 64 });
      callbackPools.set(url.origin, pool);
    }
    try {
      const res = await pool.request({
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"status":"done","output":"https://cdn.example/out.png"}',
      });
      await res.body.text();
      if (res.statusCode === 200) callbacksSent += 1;
      else callbacksFailed += 1;
    } catch {
      callbacksFailed += 1;
    }
  };

  const server = http.createServer((req, res) => {
    const at = nowMs();
    const url = new URL(req.url ?? '/', 'http://x');
    req.resume();
    req.on('end', () => {
      if (url.pathname === '/webhook') {
        const id = String(req.headers['webhook-id'] ?? '');
        webhookIds.set(id, (webhookIds.get(id) ?? 0) + 1);
        webhookLastAt = nowMs();
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"id":"gen_1"}');
      if (url.pathname === '/ok') {
        const sample = url.searchParams.get('s');
        if (sample) {
          arrivals.set(sample, at);
          arrivalWaiters.get(sample)?.(at);
          arrivalWaiters.delete(sample);
        }
      } else if (url.pathname === '/cb') {
        const target = url.searchParams.get('u');
        // After our 200 is on the wire, as a real provider calls back once the job is accepted.
        if (target) res.once('finish', () => void postCallback(target));
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrival(sample) {
      const known = arrivals.get(sample);
      if (known !== undefined) return Promise.resolve(known);
      return new Promise((resolve) => arrivalWaiters.set(sample, resolve));
    },
    webhooks() {
      let received = 0;
      let duplicates = 0;
      for (const n of webhookIds.values()) {
        received += n;
        duplicates += n - 1;
      }
      return { received, unique: webhookIds.size, duplicates, lastAt: webhookLastAt };
    },
    callbacks: () => ({ sent: callbacksSent, failed: callbacksFailed }),
    resetCounters() {
      callbacksSent = 0;
      callbacksFailed = 0;
      arrivals.clear();
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...callbackPools.values()].map((p) => p.close()));
    },
  };
}
