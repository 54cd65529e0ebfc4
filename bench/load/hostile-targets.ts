import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Targets that answer what a hostile or broken provider would, for bench/hostile.ts:
 *   /binary    200, 1 MiB of random bytes as application/octet-stream (not UTF-8, not JSON)
 *   /control   200, 5 MiB of control characters (0x00–0x1f) as application/json
 *   /ok        200 {"ok":true} (the normal traffic's target)
 */

// Why 1 MiB: a typical generated-audio answer; random bytes so no encoding can shrink or repair it.
const BINARY = randomBytes(1024 * 1024);
// Why 5 MiB: exactly the default response cap (ASYNCQUEUE_MAX_RESPONSE_BYTES), the largest answer kept.
const CONTROL = Buffer.alloc(5 * 1024 * 1024, Buffer.from(Array.from({ length: 32 }, (_, i) => i)));

export type HostileTargets = { url(path: string): string; hits(): number; close(): Promise<void> };

export async function startHostileTargets(): Promise<HostileTargets> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits += 1;
    req.resume();
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/binary')
        return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(BINARY);
      if (path === '/control') return void res.writeHead(200, { 'content-type': 'application/json' }).end(CONTROL);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  // Why: a dispatch the server gives up on mid-body resets the socket; that is expected here.
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path) => `${base}${path}`,
    hits: () => hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
