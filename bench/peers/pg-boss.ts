/**
 * Peer: pg-boss alone, written as its README shows. One process: a create endpoint (node:http)
 * and a worker that calls the target, then posts the completion webhook.
 * Env: DATABASE_URL, PORT, CONCURRENCY (jobs in flight; default 64).
 */
import http from 'node:http';
import { type Job, PgBoss } from 'pg-boss';

type Payload = { targetUrl: string; method: string; headers: Record<string, string>; body: string; webhookUrl: string };

// useListenNotify + a notify queue: a new job wakes the workers at once (low-latency delivery).
const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, useListenNotify: true });
boss.on('error', console.error);
await boss.start();
const queue = 'ai-calls';
await boss.createQueue(queue, { notify: true });

async function handle(job: Job<Payload>) {
  const { targetUrl, method, headers, body, webhookUrl } = job.data;
  const res = await fetch(targetUrl, { method, headers, body, signal: AbortSignal.timeout(30_000) });
  const result = { statusCode: res.status, body: await res.text() };
  const hook = await fetch(webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: job.id, status: 'completed', result }),
    signal: AbortSignal.timeout(10_000),
  });
  await hook.arrayBuffer();
  if (!hook.ok) throw new Error(`webhook answered ${hook.status}`);
}

// 8 workers × batches of 8 = 64 jobs in flight; a full batch fetches the next one at once.
const concurrency = Number(process.env.CONCURRENCY ?? 64);
const options = { localConcurrency: 8, batchSize: Math.ceil(concurrency / 8), burstWhenBatchFull: true };
await boss.work<Payload>(queue, options, (jobs) => Promise.all(jobs.map(handle)));

http
  .createServer(async (req, res) => {
    if (req.method !== 'POST') return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const id = await boss.send(queue, JSON.parse(Buffer.concat(chunks).toString()));
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id }));
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
