/**
 * CPU of the HTTP request path alone, without the database (not part of `npm run bench`):
 *   node bench/profile/http-path.ts [rest|trpc] [requests per round] [rounds]
 * Runs the real HTTP server (routing, admission, body reading, trpc-to-openapi or tRPC, zod input
 * and output validation, metrics, the request log line) in this process with stub services: the key
 * is admitted at once and `tasks.create` returns a canned task. 16 keep-alive connections send
 * POST /v1/tasks (or /trpc/tasks.create) over raw sockets; prints the process CPU per request (the
 * server plus this tiny client) for each round and their median. Add --cpu-prof to see where it goes.
 */
import net from 'node:net';
import { pino } from 'pino';
import type { ApiServices } from '../../server/src/api/context.ts';
import { registerHttpMetrics } from '../../server/src/api/http-metrics.ts';
import { createHttpServer } from '../../server/src/api/http-server.ts';
import { appRouter } from '../../server/src/api/routers/app-router.ts';
import { createLogger } from '../../server/src/logging/logger.ts';
import { MetricsRegistry } from '../../server/src/metrics/metrics-registry.ts';

const [mode = 'rest', perRound = '10000', roundsArg = '5'] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const CONNECTIONS = 16;

const now = new Date().toISOString();
/** The shape of a real create answer (a typical task, with its one-time callback id). */
const CREATED = {
  task: {
    ...{ id: '01890000-0000-7000-8000-000000000000', status: 'pending', targetUrl: 'http://127.0.0.1:9/ok' },
    ...{ method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bear…' } },
    body: JSON.stringify({ prompt: 'a watercolor fox in the snow', steps: 30, seed: 42 }),
    ...{ timeout: 30, maxRetries: 3, retryBackoff: 'exponential', delayUntil: null, priority: 5 },
    ...{ waitForSignal: false, maxWaitTime: 300, onCompleteUrl: null, provider: null, pollConfig: null },
    ...{ hasCallback: true, result: null, error: null, progress: null, retryCount: 0, attempts: [] },
    ...{ webhookDeliveries: [], cancelRequested: false, createdAt: now, updatedAt: now, startedAt: null },
    ...{ completedAt: null, replayOf: null, flowKey: null, callbackId: 'cb_0123456789abcdef0123456789abcdef' },
  },
};
const decision = { allowed: true, limit: 1_000_000, remaining: 999_999, resetAt: 1_900_000_000, retryAfter: 1 };
const services = {
  admit: async () => ({ principal: { teamId: 't1', keyId: 'k1' }, decision }),
  tasks: { create: async () => ({ replayed: false, body: structuredClone(CREATED) }) },
} as unknown as ApiServices;

const registry = new MetricsRegistry();
const server = createHttpServer({
  router: appRouter,
  services,
  logger: createLogger('info', pino.destination({ dest: '/dev/null', sync: true })),
  registry,
  httpMetrics: registerHttpMetrics(registry),
  maxBodyBytes: 1024 * 1024,
  trustProxy: 0,
  apiEnabled: true,
  openApiDocument: () => ({}),
  isReady: async () => ({ ready: true, checks: {} }),
  rawRoutes: [],
  limits: { maxConnections: 1000, headersTimeoutMs: 60_000, requestTimeoutMs: 300_000 },
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as net.AddressInfo).port;

const payload = JSON.stringify({
  targetUrl: 'http://127.0.0.1:9/ok',
  method: 'POST',
  headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sk-bench-0123456789' },
  body: JSON.stringify({ prompt: 'a watercolor fox in the snow', steps: 30, seed: 42 }),
});
const target = mode === 'trpc' ? '/trpc/tasks.create' : '/v1/tasks';
const request = Buffer.from(
  `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer aq_bench\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
);

/** The length of the first complete response in `buf` (Content-Length or chunked), or -1. */
function responseLength(buf: Buffer): number {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return -1;
  const head = buf.subarray(0, end).toString('latin1');
  if (!/^HTTP\/1\.1 20[01]/.test(head)) throw new Error(`unexpected answer: ${head}`);
  const length = /content-length: (\d+)/i.exec(head)?.[1];
  if (length !== undefined) return buf.length >= end + 4 + Number(length) ? end + 4 + Number(length) : -1;
  const last = buf.indexOf('\r\n0\r\n\r\n', end);
  return last < 0 ? -1 : last + 7;
}

/** Sends `total` requests over CONNECTIONS keep-alive sockets, one at a time on each. */
function drive(total: number): Promise<void> {
  let sent = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    for (let c = 0; c < CONNECTIONS; c++) {
      const socket = net.connect(port, '127.0.0.1');
      let buf = Buffer.alloc(0);
      const next = () => {
        if (sent >= total) return void socket.end();
        sent++;
        socket.write(request);
      };
      socket.on('connect', next);
      socket.on('error', reject);
      socket.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        for (let n = responseLength(buf); n > 0; n = responseLength(buf)) {
          buf = buf.subarray(n);
          if (++done === total) resolve();
          next();
        }
      });
    }
  });
}

await drive(3000); // warm-up: JIT, zod's compiled object checks, metric series
const perRequest: number[] = [];
for (let round = 0; round < Number(roundsArg); round++) {
  const before = process.cpuUsage();
  await drive(Number(perRound));
  const used = process.cpuUsage(before);
  perRequest.push((used.user + used.system) / Number(perRound));
}
const sorted = [...perRequest].sort((a, b) => a - b);
console.log(
  `${mode}: CPU µs per request (server + client): ${perRequest.map((x) => x.toFixed(0)).join(', ')}; ` +
    `median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)}`,
);
server.close();
process.exit(0);
