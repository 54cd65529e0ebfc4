import { parentPort, workerData } from 'node:worker_threads';
import { keepAliveAgent, sendRequest } from '../../test/helpers/keep-alive-client.ts';
import { nowMs, sleep } from '../lib/stats.ts';

/**
 * The normal traffic of bench/hostile.ts, in a worker thread of its own: create a task, then read
 * it, from 127.0.0.2, timed. On its own event loop, so a client process busy sending the hostile
 * traffic never adds its own delay to the normal requests' latency: what is timed is the server.
 */

export type NormalClientOptions = { url: string; apiKey: string; okTarget: string; perS: number; durationS: number };
export type NormalClientReport = { outcomes: [kind: string, outcome: string][]; ms: number[] };

// Why 10 ms: the same scheduling tick as the hostile sender.
const TICK_MS = 10;
// Why 35 s: as the hostile sender, longer than the server's own request timeouts.
const DRAIN_MS = 35_000;

async function pair(o: NormalClientOptions, agent: ReturnType<typeof keepAliveAgent>, report: NormalClientReport) {
  const headers = { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/json' };
  let t = nowMs();
  const body = JSON.stringify({ targetUrl: o.okTarget });
  const created = await sendRequest(o.url, { method: 'POST', path: '/v1/tasks', headers, body }, agent);
  report.ms.push(nowMs() - t);
  report.outcomes.push(['normal create', String(created.status || 'reset')]);
  if (created.status !== 201) return;
  const id = (JSON.parse(created.text) as { task: { id: string } }).task.id;
  t = nowMs();
  const got = await sendRequest(o.url, { method: 'GET', path: `/v1/tasks/${id}`, headers }, agent);
  report.ms.push(nowMs() - t);
  report.outcomes.push(['normal get', String(got.status || 'reset')]);
}

async function run(o: NormalClientOptions): Promise<NormalClientReport> {
  const agent = keepAliveAgent(64, '127.0.0.2');
  const report: NormalClientReport = { outcomes: [], ms: [] };
  const pending: Promise<void>[] = [];
  const endAt = Date.now() + o.durationS * 1000;
  let credit = 0;
  while (Date.now() < endAt) {
    for (credit += o.perS * (TICK_MS / 1000); credit >= 1; credit -= 1) pending.push(pair(o, agent, report));
    await sleep(TICK_MS);
  }
  await Promise.race([Promise.allSettled(pending), sleep(DRAIN_MS)]);
  agent.destroy();
  return report;
}

if (parentPort) {
  const port = parentPort;
  run(workerData as NormalClientOptions).then((report) => port.postMessage(report));
}
