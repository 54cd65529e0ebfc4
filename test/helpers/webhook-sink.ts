import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type Delivery = {
  webhookId: string;
  event: string;
  taskId: string;
  status: string;
  body: any;
  standardValid: boolean;
  asyncQueueValid: boolean;
  answered: number;
  at: number;
};

/** Verifies X-AsyncQueue-Signature (t=…,v1=…) independently of the server's code. */
export function verifyAsyncQueueSignature(header: string | undefined, body: string, secret: string): boolean {
  if (!header) return false;
  const parts = header.split(',');
  const t = parts.find((p) => p.startsWith('t='))?.slice(2);
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${t}.${body}`).digest();
  return parts
    .filter((p) => p.startsWith('v1='))
    .some((p) => {
      const given = Buffer.from(p.slice(3), 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

/**
 * A webhook receiver that verifies every delivery with the `standardwebhooks` library (an
 * independent implementation) and the hosted-compatible signature. `failFirst` answers 500 to the
 * first N deliveries; `status` forces an answer (e.g. 410).
 */
export async function startWebhookSink(
  secret: () => string,
  opts: { failFirst?: number; status?: number; retryAfter?: string } = {},
) {
  const deliveries: Delivery[] = [];
  let count = 0;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let standardValid = false;
    try {
      new Webhook(secret()).verify(raw, req.headers as Record<string, string>);
      standardValid = true;
    } catch {
      standardValid = false;
    }
    count += 1;
    const answered = opts.status ?? (count <= (opts.failFirst ?? 0) ? 500 : 200);
    const body = JSON.parse(raw);
    deliveries.push({
      webhookId: String(req.headers['webhook-id']),
      event: body.event,
      taskId: body.task?.id,
      status: body.task?.status,
      body,
      standardValid,
      asyncQueueValid: verifyAsyncQueueSignature(req.headers['x-asyncqueue-signature'] as string, raw, secret()),
      answered,
      at: Date.now(),
    });
    res.writeHead(answered, opts.retryAfter ? { 'retry-after': opts.retryAfter } : {});
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    deliveries,
    forTask: (taskId: string) => deliveries.filter((d) => d.taskId === taskId),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type WebhookSink = Awaited<ReturnType<typeof startWebhookSink>>;
