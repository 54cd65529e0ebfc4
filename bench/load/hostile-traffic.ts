import { Worker } from 'node:worker_threads';
import { keepAliveAgent } from '../../test/helpers/keep-alive-client.ts';
import { sleep } from '../lib/stats.ts';
import { type HostileKind, type Outcome, sendHostile, slowLoris } from './hostile-mix.ts';
import type { NormalClientOptions, NormalClientReport } from './normal-client.ts';

/**
 * The sending loop of bench/hostile.ts: every kind at its share of `rate` and new slow-loris
 * connections for `durationS`, while a worker thread sends the normal create + get pairs (timed);
 * then waits for the answers.
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

/** Runs the normal traffic in a worker thread (bench/load/normal-client.ts) and collects its report. */
export function startNormalClient(
  o: Pick<TrafficOptions, 'url' | 'apiKey' | 'okTarget' | 'normalPerS' | 'durationS'>,
): Promise<NormalClientReport> {
  const options: NormalClientOptions = {
    url: o.url,
    apiKey: o.apiKey,
    okTarget: o.okTarget,
    perS: o.normalPerS,
    durationS: o.durationS,
  };
  const worker = new Worker(new URL('./normal-client.ts', import.meta.url), { workerData: options });
  return new Promise((resolve, reject) => {
    worker.once('message', (report: NormalClientReport) => {
      resolve(report);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

export async function runTraffic(o: TrafficOptions): Promise<{ tally: Tally; normalMs: number[] }> {
  const hostileAgent = keepAliveAgent(MAX_IN_FLIGHT, '127.0.0.3');
  const normal = startNormalClient(o);
  const tally: Tally = new Map();
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
    await sleep(TICK_MS);
  }
  o.progress(`sending stopped; waiting up to ${DRAIN_MS / 1000} s for ${pending.size} open requests`);
  await Promise.race([Promise.allSettled([...pending]), sleep(DRAIN_MS)]);
  hostileAgent.destroy();
  const { outcomes, ms } = await normal;
  for (const [kind, outcome] of outcomes) bump(tally, kind, outcome);
  return { tally, normalMs: ms };
}
