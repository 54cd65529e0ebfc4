/**
 * Peer: graphile-worker, written as its README shows. One process: a create endpoint (node:http)
 * and a runner whose task calls the target, then posts the completion webhook.
 * Env: DATABASE_URL, PORT, CONCURRENCY (jobs in flight; default 64).
 */
import http from 'node:http';
import { run, type Task } from 'graphile-worker';

type Payload = { targetUrl: string; method: string; headers: Record<string, string>; body: string; webhookUrl: string };

const callProvider: Task = async (payload, helpers) => {
  const { targetUrl, method, headers, body, webhookUrl } = payload as Payload;
  const res = await fetch(targetUrl, { method, headers, body, signal: AbortSignal.timeout(30_000) });
  const result = { statusCode: res.status, body: await res.text() };
  const hook = await fetch(webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: helpers.job.id, status: 'completed', result }),
    signal: AbortSignal.timeout(10_000),
  });
  await hook.arrayBuffer();
  if (!hook.ok) throw new Error(`webhook answered ${hook.status}`);
};

const concurrency = Number(process.env.CONCURRENCY ?? 64);
const runner = await run({
  connectionString: process.env.DATABASE_URL,
  concurrency,
  // One connection per job in flight, plus a few for the create endpoint and the LISTEN.
  maxPoolSize: concurrency + 10,
  noHandleSignals: false,
  pollInterval: 2000,
  taskList: { callProvider },
});

http
  .createServer(async (req, res) => {
    if (req.method !== 'POST') return void res.writeHead(404).end();
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const job = await runner.addJob('callProvider', JSON.parse(Buffer.concat(chunks).toString()));
    res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: job.id }));
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
