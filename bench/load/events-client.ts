/**
 * Load generator of the live-events phase (bench/phases/events.ts): holds `count` GET /v1/events
 * streams open (one socket each, node:http, no agent) and records when each stream received each
 * task version, so the orchestrator can ask how long a change took to reach all of them.
 */
import http from 'node:http';
import { serveRpc } from '../lib/rpc.ts';
import { latency } from '../lib/stats.ts';

type Stream = { req: http.ClientRequest; seen: Map<string, number> };

let streams: Stream[] = [];

/** Opens `count` streams; resolves once every one has its headers (or failed). */
async function open(args: { serverUrl: string; apiKey: string; count: number }) {
  const url = new URL('/v1/events', args.serverUrl);
  const opened = await Promise.all(
    Array.from({ length: args.count }, () =>
      openOne(url, args.apiKey).then(
        (s) => s,
        () => null,
      ),
    ),
  );
  streams = opened.filter((s): s is Stream => s !== null);
  return { opened: streams.length, failed: args.count - streams.length };
}

function openOne(url: URL, apiKey: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const seen = new Map<string, number>();
    const req = http.get(url, { agent: false, headers: { authorization: `Bearer ${apiKey}` } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`events answered ${res.statusCode}`));
      }
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((line) => line.startsWith('data: '));
          if (!data) continue;
          const { task } = JSON.parse(data.slice(6)) as { task: { id: string; status: string } };
          const key = `${task.id}:${task.status}`;
          if (!seen.has(key)) seen.set(key, Date.now());
        }
      });
      res.on('error', () => {});
      resolve({ req, seen });
    });
    req.on('error', reject);
  });
}

/** Waits until every stream saw `taskId` in `status`; latencies are from `sentAt` (ms, this machine's clock). */
async function reached(args: { taskId: string; status: string; sentAt: number; timeoutMs: number }) {
  const key = `${args.taskId}:${args.status}`;
  const deadline = Date.now() + args.timeoutMs;
  while (Date.now() < deadline && streams.some((s) => !s.seen.has(key))) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const arrivals = streams.map((s) => s.seen.get(key)).filter((at): at is number => at !== undefined);
  return {
    reached: arrivals.length,
    of: streams.length,
    latencyMs: latency(arrivals.map((at) => at - args.sentAt)),
  };
}

async function close() {
  for (const s of streams) s.req.destroy();
  streams = [];
  return {};
}

serveRpc({ open, reached, close });
