/**
 * Load generator of the end-to-end-with-webhook workload, the same for AsyncQueue and every peer:
 * a client creating tasks over HTTP, the target (/ok, 200 at once) and the webhook receiver
 * (/hook), all in this process so that create-sent and webhook-received times share one clock.
 * Each created task's webhook names its id (AsyncQueue: `{event, task: {id}}`; peers: `{id}`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { serveRpc } from '../lib/rpc.ts';
import { latency, nowMs, sleep } from '../lib/stats.ts';

let api: Pool;
let createPath = '/v1/tasks';
let headers: Record<string, string> = {};
let endpointsUrl = '';
let receiver: http.Server | undefined;
/** Create request sent (nowMs) by task id, and webhook arrivals by task id. */
const sentAt = new Map<string, number>();
const hookAt = new Map<string, number>();
const hookCount = new Map<string, number>();
let hookWaiter: { id: string; resolve: () => void } | undefined;
let lastHookAt = 0;

function startReceiver(): Promise<string> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.startsWith('/hook')) {
        const at = nowMs();
        let id = '';
        try {
          const json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          id = String(json?.task?.id ?? json?.id ?? '');
        } catch {
          // counted under '' (a malformed webhook shows up as a missing one)
        }
        if (!hookAt.has(id)) hookAt.set(id, at);
        hookCount.set(id, (hookCount.get(id) ?? 0) + 1);
        lastHookAt = at;
        if (hookWaiter?.id === id) hookWaiter.resolve();
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true,"id":"gen_1"}');
    });
  });
  server.keepAliveTimeout = 60_000;
  receiver = server;
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)),
  );
}

/** The create body: AsyncQueue's task, or for a peer the same request plus its webhook URL. */
function createBody(kind: 'asyncqueue' | 'peer'): string {
  const request = {
    targetUrl: `${endpointsUrl}/ok`,
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sk-bench-0123456789' },
    body: JSON.stringify({ prompt: 'a watercolor fox in the snow', steps: 30, seed: 42 }),
  };
  const hook = `${endpointsUrl}/hook`;
  return JSON.stringify(kind === 'asyncqueue' ? { ...request, onCompleteUrl: hook } : { ...request, webhookUrl: hook });
}

let bodyText = '';

async function init(args: {
  url: string;
  path: string;
  headers: Record<string, string>;
  kind: 'asyncqueue' | 'peer';
  connections: number;
}) {
  endpointsUrl ||= await startReceiver();
  await api?.close();
  api = new Pool(args.url, { connections: args.connections, keepAliveTimeout: 60_000 });
  createPath = args.path;
  headers = { 'content-type': 'application/json', ...args.headers };
  bodyText = createBody(args.kind);
  return null;
}

/** One create; its id from `{task: {id}}` (AsyncQueue) or `{id}` (peers). */
async function createOne(): Promise<string | null> {
  const t0 = nowMs();
  const res = await api.request({ path: createPath, method: 'POST', headers, body: bodyText });
  const json = (await res.body.json().catch(() => null)) as { task?: { id?: string }; id?: string } | null;
  const id = json?.task?.id ?? json?.id;
  if (res.statusCode >= 300 || !id) return null;
  sentAt.set(String(id), t0);
  return String(id);
}

/** Closed loop: `concurrency` clients create for `durationMs`; returns the ids of this batch. */
let batchIds: string[] = [];
async function createBatch(args: { durationMs: number; concurrency: number }) {
  batchIds = [];
  let failed = 0;
  const firstSendAt = nowMs();
  const deadline = firstSendAt + args.durationMs;
  const client = async () => {
    while (nowMs() < deadline) {
      const id = await createOne().catch(() => null);
      if (id) batchIds.push(id);
      else failed += 1;
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, client));
  return { created: batchIds.length, failed, firstSendAt };
}

/** Waits until every task of the last batch has its webhook (or the timeout); latencies under load. */
async function awaitBatch(args: { timeoutMs: number }) {
  const deadline = Date.now() + args.timeoutMs;
  const missing = () => batchIds.filter((id) => !hookAt.has(id)).length;
  while (missing() > 0 && Date.now() < deadline) await sleep(50);
  const samples = batchIds.filter((id) => hookAt.has(id)).map((id) => hookAt.get(id)! - sentAt.get(id)!);
  const lastAt = Math.max(...batchIds.map((id) => hookAt.get(id) ?? 0));
  return { received: samples.length, missing: missing(), lastAt, loadedLatencyMs: latency(samples) };
}

/** One task at a time: create sent → its webhook received. */
async function oneByOne(args: { samples: number; warmup: number; gapMs: number }) {
  const results: number[] = [];
  const samples: { id: string; sentAt: number; hookAt: number }[] = [];
  for (let i = 0; i < args.warmup + args.samples; i += 1) {
    const id = await createOne();
    if (!id) throw new Error('create failed');
    if (!hookAt.has(id)) {
      const arrived = new Promise<void>((resolve) => {
        hookWaiter = { id, resolve };
      });
      await Promise.race([arrived, sleep(30_000)]);
      hookWaiter = undefined;
    }
    const at = hookAt.get(id);
    if (at === undefined) throw new Error(`no webhook for ${id} after 30 s`);
    if (i >= args.warmup) {
      results.push(at - sentAt.get(id)!);
      samples.push({ id, sentAt: sentAt.get(id)!, hookAt: at });
    }
    await sleep(args.gapMs);
  }
  return { latencyMs: latency(results), samples };
}

function duplicates() {
  let n = 0;
  for (const count of hookCount.values()) n += count - 1;
  return { duplicates: n, unique: hookCount.size, lastHookAt };
}

serveRpc({
  init,
  createBatch,
  awaitBatch,
  oneByOne,
  duplicates: async () => duplicates(),
  close: async () => {
    await api?.close();
    receiver?.closeAllConnections();
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
    return null;
  },
});
