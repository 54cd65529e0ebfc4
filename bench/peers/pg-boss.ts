/**
 * Peer: pg-boss alone, written as its README shows. One process: a create endpoint (node:http)
 * and a worker that calls the target, then posts the completion webhook.
 * Env: DATABASE_URL, PORT, CONCURRENCY (jobs in flight; default 64).
 */
import http from 'node:http';
import { type Job, PgBoss } from 'pg-boss';

type Payload = { targetUrl: string; method: string; headers: Record<string, string>; body: string; webhookUrl: string };

const boss = new PgBoss(process.env.DATABASE_URL as string);
boss.on('error', console.error);
await boss.start();
const queue = 'ai-calls';
// notify: LISTEN/NOTIFY wakes the workers at once instead of the next poll (low-latency delivery).
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

// 8 workers × batches of 8 = 64 jobs in flight.
const concurrency = Number(process.env.CONCURRENCY ?? 64);
await boss.work<Payload>(queue, { localConcurrency: 8, batchSize: Math.ceil(concurrency / 8) }, (jobs) =>
  Promise.all(jobs.map(handle)),
);

http
  .createServer(async (req, res) => {
    if (req.method !== 'POST') return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const id = await boss.send(queue, JSON.parse(Buffer.concat(chunks).toString()));
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id }));
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
