import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type HeldRequest = { taskId: string; attempt: string; at: number; closedAt: number | null };

/**
 * A loopback target that holds the FIRST request open forever (never answers it) and answers every
 * later one 200 {"ok":true,"n":<request number>}. It records each request when its body has been
 * read, and when the held request's connection is closed (its caller died or gave up).
 */
export async function startHoldFirstTarget() {
  const requests: HeldRequest[] = [];
  const held = new Set<http.ServerResponse>();
  const server = http.createServer(async (req, res) => {
    for await (const _chunk of req) {
      // drain the body: the caller's request is complete once we record it
    }
    const record: HeldRequest = {
      taskId: String(req.headers['x-asyncqueue-task-id'] ?? ''),
      attempt: String(req.headers['x-asyncqueue-attempt'] ?? ''),
      at: Date.now(),
      closedAt: null,
    };
    requests.push(record);
    if (requests.length === 1) {
      held.add(res);
      res.on('close', () => {
        record.closedAt = Date.now();
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, n: requests.length }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/generate`,
    requests,
    async stop() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type HoldFirstTarget = Awaited<ReturnType<typeof startHoldFirstTarget>>;
