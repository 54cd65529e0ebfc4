import { keepAliveAgent, sendRequest } from '../../test/helpers/keep-alive-client.ts';
import { nowMs, sleep } from '../lib/stats.ts';
import { type HostileKind, type Outcome, sendHostile, slowLoris } from './hostile-mix.ts';

/**
 * The sending loop of bench/hostile.ts: every kind at its share of `rate`, new slow-loris
 * connections, and normal create + get pairs (timed), for `durationS`; then waits for the answers.
 */

// Why 10 ms: 100 scheduling ticks a second keep 1,000 req/s smooth instead of in bursts.
const TICK_MS = 10;
// Why 2,000: past this many hostile requests in flight the client, not the server, is the bottleneck;
// requests over it are counted as skipped instead of piling up in this process.
const MAX_IN_FLIGHT = 2_000;
// Why 5 new connections a second, a byte every 2 s: a slow-loris that never finishes its headers.
const LORIS_PER_S = 5;
const LORIS_BYTE_EVERY_MS = 2_000;
// Why 35 s: longer than the server's request/headers timeouts, so every request gets its answer.
const DRAIN_MS = 35_000;

export type Tally = Map<string, Map<string, number>>;

export type TrafficOptions = {
  url: string;
  apiKey: string;
  okTarget: string;
  kinds: HostileKind[];
  durationS: number;
  /** Hostile requests per second (the kinds' shares are per 1,000). */
  rate: number;
  normalPerS: number;
  progress(message: string): void;
};

const bump = (tally: Tally, kind: string, outcome: Outcome | string) => {
  const row = tally.get(kind) ?? new Map<string, number>();
  row.set(String(outcome), (row.get(String(outcome)) ?? 0) + 1);
  tally.set(kind, row);
};

/** One normal client step from 127.0.0.2: create a task, then read it; both timed. */
async function normalPair(o: TrafficOptions, agent: ReturnType<typeof keepAliveAgent>, tally: Tally, ms: number[]) {
  const headers = { authorization: `Bearer ${o.apiKey}`, 'content-type': 'application/json' };
  let t = nowMs();
  const body = JSON.stringify({ targetUrl: o.okTarget });
  const created = await sendRequest(o.url, { method: 'POST', path: '/v1/tasks', headers, body }, agent);
  ms.push(nowMs() - t);
  bump(tally, 'normal create', created.status || 'reset');
  if (created.status !== 201) return;
  const id = (JSON.parse(created.text) as { task: { id: string } }).task.id;
  t = nowMs();
  const got = await sendRequest(o.url, { method: 'GET', path: `/v1/tasks/${id}`, headers }, agent);
  ms.push(nowMs() - t);
  bump(tally, 'normal get', got.status || 'reset');
}

export async function runTraffic(o: TrafficOptions): Promise<{ tally: Tally; normalMs: number[] }> {
  const hostileAgent = keepAliveAgent(MAX_IN_FLIGHT, '127.0.0.3');
  const normalAgent = keepAliveAgent(64, '127.0.0.2');
  const tally: Tally = new Map();
  const normalMs: number[] = [];
  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  let inFlight = 0;
  const sendKind = (kind: HostileKind) => {
    if (inFlight >= MAX_IN_FLIGHT) return bump(tally, kind.name, 'skipped (client saturated)');
    inFlight += 1;
    track(
      sendHostile(o.url, kind.request(), hostileAgent).then((outcome) => {
        inFlight -= 1;
        bump(tally, kind.name, outcome);
      }),
    );
  };
  const lorisOutcome = (r: { openMs: number; closedByServer: boolean }) =>
    r.closedByServer ? `closed by server (≤ ${Math.ceil(r.openMs / 10_000) * 10} s)` : 'still open at the end';
  const credit = new Map<string, number>();
  const endAt = Date.now() + o.durationS * 1000;
  let lorisCredit = 0;
  let normalCredit = 0;
  while (Date.now() < endAt) {
    for (const kind of o.kinds) {
      let c = (credit.get(kind.name) ?? 0) + kind.perSecond * (o.rate / 1000) * (TICK_MS / 1000);
      for (; c >= 1; c -= 1) sendKind(kind);
      credit.set(kind.name, c);
    }
    for (lorisCredit += LORIS_PER_S * (TICK_MS / 1000); lorisCredit >= 1; lorisCredit -= 1) {
      const held = Math.max(0, endAt - Date.now()) + 1000;
      track(
        slowLoris(o.url, LORIS_BYTE_EVERY_MS, held).then((r) => bump(tally, 'slow-loris headers', lorisOutcome(r))),
      );
    }
    for (normalCredit += o.normalPerS * (TICK_MS / 1000); normalCredit >= 1; normalCredit -= 1) {
      track(normalPair(o, normalAgent, tally, normalMs));
    }
    await sleep(TICK_MS);
  }
  o.progress(`sending stopped; waiting up to ${DRAIN_MS / 1000} s for ${pending.size} open requests`);
  await Promise.race([Promise.allSettled([...pending]), sleep(DRAIN_MS)]);
  hostileAgent.destroy();
  normalAgent.destroy();
  return { tally, normalMs };
}
