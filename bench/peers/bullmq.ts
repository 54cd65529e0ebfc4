/**
 * Peer: BullMQ on Redis, written as its README shows. One process: a create endpoint (node:http)
 * and a worker that calls the target, then posts the completion webhook.
 * Env: REDIS_URL, PORT, CONCURRENCY (jobs in flight; default 64).
 */
import http from 'node:http';
import { type Job, Queue, Worker } from 'bullmq';

type Payload = { targetUrl: string; method: string; headers: Record<string, string>; body: string; webhookUrl: string };

const { hostname, port } = new URL(process.env.REDIS_URL as string);
const connection = { host: hostname, port: Number(port) };
const queue = new Queue<Payload>('ai-calls', { connection });

const worker = new Worker<Payload>(
  'ai-calls',
  async (job: Job<Payload>) => {
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
  },
  { connection, concurrency: Number(process.env.CONCURRENCY ?? 64) },
);
worker.on('failed', (job, error) => console.error(`job ${job?.id} failed: ${error.message}`));

http
  .createServer(async (req, res) => {
    if (req.method !== 'POST') return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const job = await queue.add('call', JSON.parse(Buffer.concat(chunks).toString()), {
      // Retries as the other queues have them; completed jobs are kept as the others keep theirs.
      attempts: 3,
      backoff: { type: 'exponential', delay: 1000 },
    });
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: job.id }));
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
