import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type RecordedRequest = {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  at: number;
};

export type Answer = { status: number; headers?: Record<string, string>; body?: string };

/**
 * An HTTP server that keeps every request as received (headers and raw body) and answers with
 * `answer` (200 by default). Used as a webhook receiver that needs the headers, and as a canary
 * that must never be reached. Rejects when the address cannot be bound (e.g. 127.0.0.2).
 */
export async function startRecordingServer(
  opts: { host?: string; answer?: (req: RecordedRequest, n: number) => Answer } = {},
) {
  const host = opts.host ?? '127.0.0.1';
  const received: RecordedRequest[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '/',
      headers: req.headers,
      raw: Buffer.concat(chunks).toString(),
      at: Date.now(),
    };
    received.push(recorded);
    const answer = opts.answer?.(recorded, received.length) ?? { status: 200 };
    res.writeHead(answer.status, answer.headers ?? {});
    res.end(answer.body ?? '');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host,
    port,
    url: (path = '/') => `http://${host}:${port}${path}`,
    received,
    hits: () => received.length,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type RecordingServer = Awaited<ReturnType<typeof startRecordingServer>>;
