import type { WebhookResults } from '../phases/e2e-webhook.ts';
import { format } from './context.ts';
import type { BenchResults, TargetCheck } from './report.ts';
import type { Figure } from './stats.ts';

const ratio = (a: Figure | undefined, b: Figure | undefined) => (a && b ? a.median / b.median : null);
const x = (v: number | null) => (v === null ? 'not measured' : `${v.toFixed(v < 1 ? 3 : 2)} ×`);

/** Ratios to the plain ceilings (the least SQL that does the job) and to the peers. */
export function plainRatios(r: BenchResults) {
  const aq = r.asyncqueue ?? {};
  const peers = Object.entries(r.peers ?? {}).filter((e): e is [string, WebhookResults] => e[1] !== undefined);
  const best = peers.reduce<[string, WebhookResults] | null>(
    (b, p) => (b === null || p[1].throughput.median > b[1].throughput.median ? p : b),
    null,
  );
  return {
    createRest: ratio(aq.createRest?.throughput, r.plain?.create),
    createTrpc: ratio(aq.createTrpc?.throughput, r.plain?.create),
    direct: ratio(aq.direct?.throughput, r.plain?.claimComplete),
    webhook: ratio(r.webhook?.throughput, r.plain?.claimComplete),
    callback: ratio(aq.callback?.throughput, r.plain?.claimComplete),
    schemaCreate: ratio(r.ceilings?.createSql, r.plain?.create),
    schemaClaim: ratio(r.ceilings?.claimComplete, r.plain?.claimComplete),
    bestPeer: best ? { name: best[0], ratio: ratio(r.webhook?.throughput, best[1].throughput) } : null,
    peers,
  };
}

const atLeast = (name: string, value: number | null, wanted: number): TargetCheck => ({
  name,
  figure: x(value),
  target: `≥ ${wanted}`,
  met: value === null ? null : value >= wanted,
});

/** Issue 15's targets, each judged on this run's figures, ceilings and peers. */
export function issueTargets(r: BenchResults): TargetCheck[] {
  const p = plainRatios(r);
  const aq = r.asyncqueue ?? {};
  const fp = aq.footprint;
  const hookP50 = r.webhook?.latencyMs.p50;
  const slowerPeers = p.peers.filter(([, peer]) => hookP50 !== undefined && peer.latencyMs.p50 <= hookP50);
  return [
    atLeast('Create over REST ≥ 0.35 × plain create ceiling', p.createRest, 0.35),
    atLeast('End-to-end direct with webhook ≥ 0.15 × plain claim+complete ceiling', p.webhook, 0.15),
    atLeast('Callback mode ≥ 0.08 × plain claim+complete ceiling', p.callback, 0.08),
    atLeast(`End-to-end with webhook ≥ 1.5 × best peer (${p.bestPeer?.name ?? '?'})`, p.bestPeer?.ratio ?? null, 1.5),
    {
      name: 'Create → webhook p50 lower than every peer',
      figure:
        hookP50 === undefined || p.peers.length === 0
          ? 'not measured'
          : `${format(hookP50)} ms; ${p.peers.map(([n, peer]) => `${n} ${format(peer.latencyMs.p50)}`).join(', ')} ms`,
      target: '< every peer',
      met: hookP50 === undefined || p.peers.length === 0 ? null : slowerPeers.length === 0,
    },
    {
      name: 'Pickup latency p50 at low load',
      figure: aq.latency ? `${format(aq.latency.pickupMs.p50)} ms` : 'not measured',
      target: '≤ 5 ms',
      met: aq.latency ? aq.latency.pickupMs.p50 <= 5 : null,
    },
    {
      name: 'Callback → long-poll wake p50',
      figure: aq.latency ? `${format(aq.latency.wakeMs.p50)} ms` : 'not measured',
      target: '≤ 3 ms',
      met: aq.latency ? aq.latency.wakeMs.p50 <= 3 : null,
    },
    {
      name: `RSS with ${fp?.waitingTasks ?? '?'} waiting tasks and ${fp?.longPolls ?? '?'} long-polls`,
      figure: fp ? `${format(fp.rssMb)} MB (peak ${format(fp.peakRssMb)} MB)` : 'not measured',
      target: '≤ 300 MB',
      met: fp ? fp.rssMb <= 300 : null,
    },
  ];
}

/**
 * Each step of the create path with its cost. Time per transaction is the plain step's (median
 * over the run) divided by the step's share of plain, so each row's cost is measured against plain
 * run right around it.
 */
export function breakdownTable(r: BenchResults): string[] {
  const rows = r.breakdown;
  if (!rows?.length) return [];
  const plainRates = rows.map((row) => row.plainTxPerSecond).sort((a, b) => a - b);
  const plainMs = (1000 * r.poolSize) / plainRates[Math.floor(plainRates.length / 2)]!;
  const msOf = (share: number) => plainMs / share;
  const sign = (v: number) => `${v >= 0 ? '+' : ''}${format(v)}`;
  return [
    `Create breakdown: each step adds one thing to the one above (BEGIN; the task row; the job row; COMMIT, at ${r.poolSize} connections); each step runs ${(r.sizes.breakdownStepMs / 2000).toFixed(1)} s between two runs of the plain step, and is shown as its share of that plain rate. ms per tx = plain's median ms per tx / share.`,
    '',
    '| Step | tx/s | plain tx/s around it | share of plain | ms per tx | cost of this step (ms per tx) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((row, i) => {
      const previous = rows[i - 1];
      const cost = previous ? sign(msOf(row.shareOfPlain) - msOf(previous.shareOfPlain)) : '';
      const errors = row.errors > 0 ? ` (${row.errors} errors)` : '';
      return `| ${row.label}${errors} | ${format(row.txPerSecond)} | ${format(row.plainTxPerSecond)} | ${row.shareOfPlain.toFixed(2)} × | ${format(msOf(row.shareOfPlain))} | ${cost} |`;
    }),
  ];
}

/** AsyncQueue and every peer on the same end-to-end-with-webhook workload. */
export function peersTable(r: BenchResults): string[] {
  const systems: [string, WebhookResults][] = [];
  if (r.webhook) systems.push(['AsyncQueue (server process)', r.webhook]);
  for (const [name, peer] of plainRatios(r).peers) systems.push([name, peer]);
  if (systems.length === 0) return [];
  const row = ([name, w]: [string, WebhookResults]) => {
    const redis = w.redisCpuMsPer1000 ? ` (+ redis-server ${format(w.redisCpuMsPer1000.median)})` : '';
    return `| ${name} | ${format(w.throughput.median)} (${format(w.throughput.min)}–${format(w.throughput.max)}) | ${format(w.latencyMs.p50)} / ${format(w.latencyMs.p99)} | ${format(w.loadedLatencyMs.p50)} / ${format(w.loadedLatencyMs.p99)} | ${format(w.cpuMsPer1000.median)}${redis} | ${format(w.peakRssMb)} | ${w.lost} / ${w.duplicates} |`;
  };
  return [
    'End-to-end with a completion webhook (create → target → webhook received), the same workload on each system, one process each (create endpoint + worker):',
    '',
    '| System | tasks/s (min–max) | create → webhook p50 / p99, one at a time (ms) | p50 / p99 under the throughput load (ms) | CPU ms per 1,000 tasks | peak RSS (MB) | lost / duplicate webhooks |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...systems.map(row),
    ...(r.webhook?.stagesMs
      ? [
          '',
          `AsyncQueue's create → webhook time by stage (p50 of the one-at-a-time samples, ms): ${Object.entries(
            r.webhook.stagesMs,
          )
            .map(([stage, ms]) => `${stage} ${format(ms)}`)
            .join('; ')}.`,
        ]
      : []),
  ];
}
