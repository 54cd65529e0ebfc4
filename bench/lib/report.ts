import type { AsyncQueueResults } from '../phases/asyncqueue.ts';
import type { CeilingResults } from '../phases/ceilings.ts';
import type { WebhookResults } from '../phases/e2e-webhook.ts';
import type { BreakdownRow, PlainCeilingResults } from '../phases/plain-ceilings.ts';
import type { RawQueueResults } from '../phases/raw-queue.ts';
import { format, type Sizes } from './context.ts';
import type { MachineInfo } from './machine.ts';
import type { PeerName } from './peers.ts';
import type { PostgresSettings } from './postgres.ts';
import { breakdownTable, issueTargets, peersTable, plainRatios } from './report-issue15.ts';
import { type Figure, figure, type Latency } from './stats.ts';

export type BenchResults = {
  date: string;
  mode: 'quick' | 'full';
  machine: MachineInfo;
  postgres: PostgresSettings & { kind: string };
  poolSize: number;
  sizes: Sizes;
  plain?: PlainCeilingResults;
  ceilings?: CeilingResults;
  breakdown?: BreakdownRow[];
  /** AsyncQueue's end-to-end-with-webhook workload, and each peer's. */
  webhook?: WebhookResults;
  peers?: Partial<Record<PeerName, WebhookResults>>;
  /** Figures of phases registered later (their own keys). */
  extra?: Record<string, unknown>;
  rawQueue?: RawQueueResults;
  asyncqueue?: AsyncQueueResults;
  elapsedSeconds?: number;
  evaluation?: Evaluation;
};

export type TargetCheck = { name: string; figure: string; target: string; met: boolean | null };
export type GateCheck = { name: string; value: number | null; passed: boolean };
export type Ratios = {
  createRestVsCreateSql: number | null;
  createTrpcVsCreateSql: number | null;
  directVsClaimComplete: number | null;
  callbackVsClaimComplete: number | null;
  rawQueueVsClaimComplete: number | null;
  pickupP50VsRawQueueP50: number | null;
};
export type Evaluation = { targets: TargetCheck[]; gates: GateCheck[]; ratios: Ratios };

const ratio = (a: Figure | undefined, b: Figure | undefined) => (a && b ? a.median / b.median : null);

/** Targets of the issue, each judged on this run's figures and this run's ceilings. */
export function evaluate(r: BenchResults): Evaluation {
  const aq = r.asyncqueue ?? {};
  const ratios: Ratios = {
    createRestVsCreateSql: ratio(aq.createRest?.throughput, r.ceilings?.createSql),
    createTrpcVsCreateSql: ratio(aq.createTrpc?.throughput, r.ceilings?.createSql),
    directVsClaimComplete: ratio(aq.direct?.throughput, r.ceilings?.claimComplete),
    callbackVsClaimComplete: ratio(aq.callback?.throughput, r.ceilings?.claimComplete),
    rawQueueVsClaimComplete: ratio(r.rawQueue?.throughput, r.ceilings?.claimComplete),
    pickupP50VsRawQueueP50: aq.latency && r.rawQueue ? aq.latency.pickupMs.p50 / r.rawQueue.latencyMs.p50 : null,
  };
  const fp = aq.footprint;
  const targets: TargetCheck[] = [
    ...issueTargets(r),
    {
      name: `DB connections with ${fp?.longPolls ?? '?'} open long-polls`,
      figure: fp
        ? `${fp.connections} (${fp.connectionsBeforeLongPolls} before the long-polls; request pool ${fp.connectionsByApp['asyncqueue-orm'] ?? 0} of ${fp.poolSize})`
        : 'not measured',
      target: `≤ the server's pools (${fp?.connectionBudget ?? '?'}); the request pool ≤ ASYNCQUEUE_DB_POOL_SIZE`,
      met: fp
        ? fp.connections <= fp.connectionBudget && (fp.connectionsByApp['asyncqueue-orm'] ?? 0) <= fp.poolSize
        : null,
    },
  ];
  const measuredLost = [aq.direct, aq.callback, aq.footprint, r.webhook].filter((x) => x !== undefined);
  const gates: GateCheck[] = [
    {
      name: 'zero lost tasks',
      value: measuredLost.length ? measuredLost.reduce((n, x) => n + x.lost, 0) : null,
      passed: measuredLost.every((x) => x.lost === 0),
    },
    {
      name: 'zero duplicate webhooks (by webhook-id)',
      value: aq.callback || r.webhook ? (aq.callback?.duplicateWebhooks ?? 0) + (r.webhook?.duplicates ?? 0) : null,
      passed: (aq.callback?.duplicateWebhooks ?? 0) + (r.webhook?.duplicates ?? 0) === 0,
    },
  ];
  return { targets, gates, ratios };
}

const range = (f: Figure) => `${format(f.min)}–${format(f.max)}`;
const lat = (l: Latency) => `${format(l.p50)} / ${format(l.p99)}`;

/** The markdown table of the issue: every figure, its ratio to its ceiling, the targets and gates. */
export function markdownReport(r: BenchResults): string {
  const e = r.evaluation ?? evaluate(r);
  const aq = r.asyncqueue ?? {};
  const c = r.ceilings;
  const q = r.rawQueue;
  const rows: string[][] = [];
  const fig = (
    name: string,
    unit: string,
    f: Figure | undefined,
    vs: string,
    x: number | null,
    target: string,
    cpu?: Figure,
  ) => {
    if (f) {
      const cpuText = cpu ? format(cpu.median) : '';
      rows.push([name, unit, format(f.median), range(f), vs, x === null ? '—' : ratioText(x), target, cpuText]);
    }
  };
  const p = plainRatios(r);
  const pl = r.plain;
  fig('Plain ceiling: create (2 plain tables, PK only)', 'tx/s', pl?.create, '', null, '', pl?.createCpuMsPerTx);
  fig(
    'Plain ceiling: claim + complete (SKIP LOCKED)',
    'tasks/s',
    pl?.claimComplete,
    '',
    null,
    '',
    pl?.claimCpuMsPerTask,
  );
  fig(
    'Schema ceiling: create SQL (our task + pg-boss job)',
    'tx/s',
    c?.createSql,
    'plain create',
    p.schemaCreate,
    '',
    c?.createSqlCpuMsPerTx,
  );
  fig(
    'Schema ceiling: claim-and-complete (pg-boss fetch)',
    'tasks/s',
    c?.claimComplete,
    'plain claim',
    p.schemaClaim,
    '',
    c?.claimCpuMsPerTask,
  );
  fig(
    'pg-boss alone: send → completed (no-op handler)',
    'jobs/s',
    q?.throughput,
    'schema claim',
    e.ratios.rawQueueVsClaimComplete,
    '',
    q?.workerCpuMsPerJob,
  );
  if (q) rows.push(['pg-boss alone: send → handler p50 / p99 (one at a time)', 'ms', lat(q.latencyMs), '', '', '', '']);
  fig(
    'Create over REST',
    'tasks/s',
    aq.createRest?.throughput,
    'plain create',
    p.createRest,
    '≥ 0.35 ×',
    aq.createRest?.cpuMsPerTask,
  );
  fig(
    'Create over tRPC',
    'tasks/s',
    aq.createTrpc?.throughput,
    'plain create',
    p.createTrpc,
    '',
    aq.createTrpc?.cpuMsPerTask,
  );
  fig(
    'End-to-end direct, no webhook (created → completed)',
    'tasks/s',
    aq.direct?.throughput,
    'plain claim',
    p.direct,
    '',
    aq.direct?.cpuMsPerTask,
  );
  const hookCpu = r.webhook ? figure(r.webhook.cpuMsPer1000.runs.map((v) => v / 1000)) : undefined;
  fig(
    'End-to-end direct with webhook (created → webhook received)',
    'tasks/s',
    r.webhook?.throughput,
    'plain claim',
    p.webhook,
    '≥ 0.15 ×',
    hookCpu,
  );
  if (r.webhook) {
    rows.push([
      'Create → webhook p50 / p99 (one at a time)',
      'ms',
      lat(r.webhook.latencyMs),
      '',
      '',
      '',
      '< every peer',
    ]);
  }
  fig(
    'Callback mode (created → … → webhook delivered)',
    'tasks/s',
    aq.callback?.throughput,
    'plain claim',
    p.callback,
    '≥ 0.08 ×',
    aq.callback?.cpuMsPerTask,
  );
  if (aq.latency) {
    const vs = e.ratios.pickupP50VsRawQueueP50;
    rows.push([
      'Pickup latency p50 / p99 (create → provider)',
      'ms',
      lat(aq.latency.pickupMs),
      '',
      'pg-boss p50',
      vs === null ? '—' : `${vs.toFixed(2)} ×`,
      'p50 ≤ 5 ms',
    ]);
    rows.push(['Callback → long-poll wake p50 / p99', 'ms', lat(aq.latency.wakeMs), '', '', '', 'p50 ≤ 3 ms']);
  }
  const fp = aq.footprint;
  if (fp) {
    rows.push([
      `Server RSS, ${fp.waitingTasks} waiting + ${fp.longPolls} long-polls`,
      'MB',
      format(fp.rssMb),
      `peak ${format(fp.peakRssMb)}`,
      '',
      '',
      '≤ 300 MB',
      `${format(fp.cpuMsPerTask)} (filling: ${format(fp.fillSeconds)} s)`,
    ]);
    rows.push([
      `DB connections, ${fp.longPolls} long-polls open`,
      'conns',
      String(fp.connections),
      `before ${fp.connectionsBeforeLongPolls}`,
      `pool ${fp.poolSize} / all pools ${fp.connectionBudget}`,
      '',
      '≤ pools',
      Object.entries(fp.connectionsByApp)
        .map(([app, n]) => `${app.replace('asyncqueue-', '')} ${n}`)
        .join(', '),
    ]);
  }
  const header = [
    'Measure',
    'Unit',
    'Median',
    'Min–max',
    'Ceiling',
    'Ratio',
    'Target',
    'CPU ms per task (process measured) / notes',
  ];
  const padded = rows.map((row) => [...row, ...header.slice(row.length).map(() => '')]);
  const table = [header, header.map(() => '---'), ...padded].map((row) => `| ${row.join(' | ')} |`).join('\n');
  const checks = e.targets.map(
    (t) => `| ${t.name} | ${t.figure} | ${t.target} | ${t.met === null ? 'n/a' : t.met ? 'met' : '**missed**'} |`,
  );
  const gates = e.gates.map((g) => `| ${g.name} | ${g.value ?? 'n/a'} | ${g.passed ? 'pass' : '**FAIL**'} |`);
  const pg = r.postgres;
  return [
    `## AsyncQueue benchmark — ${r.date} (${r.mode}${r.mode === 'quick' ? ', smoke: no thresholds' : ''})`,
    '',
    `Machine: ${r.machine.nproc} cores (${r.machine.cpu}), ${r.machine.memGb} GB RAM, ${r.machine.kernel}, Node ${r.machine.node}; load average ${r.machine.loadAvg} at start, ${r.machine.loadAvgEnd ?? '?'} at end.`,
    `PostgreSQL: ${pg.version} (${pg.kind}); shared_buffers=${pg.shared_buffers}, synchronous_commit=${pg.synchronous_commit}, max_connections=${pg.max_connections}, fsync=${pg.fsync}, work_mem=${pg.work_mem}, wal_level=${pg.wal_level}.`,
    `ASYNCQUEUE_DB_POOL_SIZE=${r.poolSize}; ${r.sizes.runs} runs after a warm-up; median and min–max; ${r.sizes.httpConcurrency} concurrent HTTP clients.`,
    '',
    table,
    '',
    ...peersTable(r),
    '',
    ...breakdownTable(r),
    '',
    '| Target | Figure | Wanted | Result |',
    '| --- | --- | --- | --- |',
    ...checks,
    '',
    '| Hard gate | Count | Result |',
    '| --- | --- | --- |',
    ...gates,
  ].join('\n');
}

/** Three decimals below 1, so that a ratio just under its target never prints as the target. */
function ratioText(x: number): string {
  return `${x.toFixed(x < 1 ? 3 : 2)} ×`;
}
