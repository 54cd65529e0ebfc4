import type { AsyncQueueResults } from '../phases/asyncqueue.ts';
import type { CeilingResults } from '../phases/ceilings.ts';
import type { RawQueueResults } from '../phases/raw-queue.ts';
import { format, type Sizes } from './context.ts';
import type { MachineInfo } from './machine.ts';
import type { PostgresSettings } from './postgres.ts';
import type { Figure, Latency } from './stats.ts';

export type BenchResults = {
  date: string;
  mode: 'quick' | 'full';
  machine: MachineInfo;
  postgres: PostgresSettings & { kind: string };
  poolSize: number;
  sizes: Sizes;
  ceilings?: CeilingResults;
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
    {
      name: 'Create over REST ≥ 0.5 × create-SQL ceiling',
      figure: fmtRatio(ratios.createRestVsCreateSql),
      target: '≥ 0.5',
      met: ratios.createRestVsCreateSql === null ? null : ratios.createRestVsCreateSql >= 0.5,
    },
    {
      name: 'End-to-end direct ≥ 0.25 × claim-and-complete ceiling',
      figure: fmtRatio(ratios.directVsClaimComplete),
      target: '≥ 0.25',
      met: ratios.directVsClaimComplete === null ? null : ratios.directVsClaimComplete >= 0.25,
    },
    {
      name: 'Pickup latency p50 at low load',
      figure: aq.latency ? `${format(aq.latency.pickupMs.p50)} ms` : 'not measured',
      target: '≤ 10 ms',
      met: aq.latency ? aq.latency.pickupMs.p50 <= 10 : null,
    },
    {
      name: 'Callback → long-poll wake p50',
      figure: aq.latency ? `${format(aq.latency.wakeMs.p50)} ms` : 'not measured',
      target: '≤ 5 ms',
      met: aq.latency ? aq.latency.wakeMs.p50 <= 5 : null,
    },
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
    {
      name: `RSS with ${fp?.waitingTasks ?? '?'} waiting tasks`,
      figure: fp ? `${format(fp.rssMb)} MB (peak ${format(fp.peakRssMb)} MB)` : 'not measured',
      target: '≤ 300 MB',
      met: fp ? fp.rssMb <= 300 : null,
    },
  ];
  const measuredLost = [aq.direct, aq.callback, aq.footprint].filter((x) => x !== undefined);
  const gates: GateCheck[] = [
    {
      name: 'zero lost tasks',
      value: measuredLost.length ? measuredLost.reduce((n, x) => n + x.lost, 0) : null,
      passed: measuredLost.every((x) => x.lost === 0),
    },
    {
      name: 'zero duplicate webhooks (by webhook-id)',
      value: aq.callback?.duplicateWebhooks ?? null,
      passed: (aq.callback?.duplicateWebhooks ?? 0) === 0,
    },
  ];
  return { targets, gates, ratios };
}

function fmtRatio(x: number | null): string {
  return x === null ? 'not measured' : ratioText(x);
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
  fig('Ceiling: create SQL (task + job in one tx)', 'tx/s', c?.createSql, '', null, '', c?.createSqlCpuMsPerTx);
  fig('Ceiling: claim-and-complete (SKIP LOCKED)', 'tasks/s', c?.claimComplete, '', null, '', c?.claimCpuMsPerTask);
  fig(
    'pg-boss alone: send → completed',
    'jobs/s',
    q?.throughput,
    'claim-and-complete',
    e.ratios.rawQueueVsClaimComplete,
    '',
    q?.workerCpuMsPerJob,
  );
  if (q) rows.push(['pg-boss alone: send → handler p50 / p99 (one at a time)', 'ms', lat(q.latencyMs), '', '', '', '']);
  fig(
    'Create over REST',
    'tasks/s',
    aq.createRest?.throughput,
    'create SQL',
    e.ratios.createRestVsCreateSql,
    '≥ 0.5 ×',
    aq.createRest?.cpuMsPerTask,
  );
  fig(
    'Create over tRPC',
    'tasks/s',
    aq.createTrpc?.throughput,
    'create SQL',
    e.ratios.createTrpcVsCreateSql,
    '',
    aq.createTrpc?.cpuMsPerTask,
  );
  fig(
    'End-to-end direct (created → completed)',
    'tasks/s',
    aq.direct?.throughput,
    'claim-and-complete',
    e.ratios.directVsClaimComplete,
    '≥ 0.25 ×',
    aq.direct?.cpuMsPerTask,
  );
  fig(
    'Callback mode (created → … → webhook delivered)',
    'tasks/s',
    aq.callback?.throughput,
    'claim-and-complete',
    e.ratios.callbackVsClaimComplete,
    '',
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
      'p50 ≤ 10 ms',
    ]);
    rows.push(['Callback → long-poll wake p50 / p99', 'ms', lat(aq.latency.wakeMs), '', '', '', 'p50 ≤ 5 ms']);
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
