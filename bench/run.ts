/**
 * `npm run bench` (full, ~8 min) / `npm run bench -- --quick` (< 2 min, CI smoke).
 * Phases (the PHASES table): plain and schema ceilings, the create breakdown, pg-boss alone,
 * AsyncQueue, the end-to-end-with-webhook workload on AsyncQueue and its peers; then the report.
 * Each measurement gets a fresh database on one PostgreSQL; the server and the load generators
 * run as separate processes. Writes bench/results/<date>.json and prints a markdown table.
 * Options: --quick; --only=<parts of PHASES>; --cpu-prof
 * (server CPU profiles into the log dir); --pool=N (ASYNCQUEUE_DB_POOL_SIZE, default 10);
 * --server-node-args="--max-semi-space-size=8 …" (node flags for the server, to try a fix);
 * --report=bench/results/<file>.json prints the table of an earlier run.
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SERVER_NODE_FLAGS } from '../server/src/config/node-flags.ts';
import { killAllChildren, REPO_ROOT } from './lib/children.ts';
import { type Ctx, FULL, type Part, QUICK } from './lib/context.ts';
import { machineInfo } from './lib/machine.ts';
import { startBenchPostgres } from './lib/postgres.ts';
import { type BenchResults, evaluate, markdownReport } from './lib/report.ts';
import { runCreate } from './phases/aq-create.ts';
import { runCallbackFlow, runDirect } from './phases/aq-flows.ts';
import { runFootprint } from './phases/aq-footprint.ts';
import { runLatency } from './phases/aq-latency.ts';
import { runBatchCreate } from './phases/batch-create.ts';
import { runCeilings } from './phases/ceilings.ts';
import { runAsyncQueueWebhook, runPeers } from './phases/e2e-webhook.ts';
import { runEvents } from './phases/events.ts';
import { runFlowControl } from './phases/flow-control.ts';
import { runBreakdown, runPlainCeilings } from './phases/plain-ceilings.ts';
import { runRawQueue } from './phases/raw-queue.ts';

/**
 * The phases, in the order they run; `--only=<part>,…` picks a subset. A new phase is one row:
 * `{ part, title, run: async (ctx, r) => { r.extra.<name> = await runX(ctx); } }` (figures in
 * `r.extra` are kept in the results file; a phase's own table rows go through lib/report.ts).
 */
type Phase = { part: Part; title: string; run(ctx: Ctx, r: BenchResults): Promise<void> };
const aq = (r: BenchResults) => {
  r.asyncqueue ??= {};
  return r.asyncqueue;
};
const extra = (r: BenchResults) => {
  r.extra ??= {};
  return r.extra;
};
/* biome-ignore format: one row per phase */
const PHASES: Phase[] = [
  { part: 'plain', title: 'plain ceilings (primary keys only)', run: async (c, r) => { r.plain = await runPlainCeilings(c); } },
  { part: 'ceilings', title: 'schema ceilings (our tables, raw SQL)', run: async (c, r) => { r.ceilings = await runCeilings(c); } },
  { part: 'breakdown', title: 'create breakdown', run: async (c, r) => { r.breakdown = await runBreakdown(c); } },
  { part: 'queue', title: 'pg-boss alone (no-op handler)', run: async (c, r) => { r.rawQueue = await runRawQueue(c); } },
  { part: 'create', title: 'AsyncQueue create', run: async (c, r) => { aq(r).createRest = await runCreate(c, 'rest'); aq(r).createTrpc = await runCreate(c, 'trpc'); } },
  { part: 'e2e', title: 'AsyncQueue end-to-end direct', run: async (c, r) => { aq(r).direct = await runDirect(c); } },
  { part: 'callback', title: 'AsyncQueue callback mode', run: async (c, r) => { aq(r).callback = await runCallbackFlow(c); } },
  { part: 'webhook', title: 'AsyncQueue end-to-end with webhook', run: async (c, r) => { r.webhook = await runAsyncQueueWebhook(c); } },
  { part: 'peers', title: 'peers, same workload', run: async (c, r) => { r.peers = await runPeers(c); } },
  { part: 'latency', title: 'AsyncQueue latency', run: async (c, r) => { aq(r).latency = await runLatency(c); } },
  { part: 'footprint', title: 'AsyncQueue footprint', run: async (c, r) => { aq(r).footprint = await runFootprint(c); } },
  { part: 'events', title: 'live events: 1,000 SSE streams vs 1,000 long-polls', run: async (c, r) => { extra(r).events = await runEvents(c); } },
  { part: 'batch', title: 'batch create (100 and 1,000 per request) vs the single-row ceiling', run: async (c, r) => { extra(r).batchCreate = await runBatchCreate(c); } },
  { part: 'flow', title: 'flow control: a non-binding key vs no key, and a freed slot\'s next dispatch', run: async (c, r) => { extra(r).flowControl = await runFlowControl(c); } },
];
const ALL_PARTS = PHASES.map((p) => p.part);

function parseArgs(argv: string[]) {
  const flag = (name: string) => argv.includes(`--${name}`);
  const value = (name: string) => {
    const arg = argv.find((a) => a.startsWith(`--${name}=`));
    return arg?.slice(name.length + 3);
  };
  const only = value('only')?.split(',') as Part[] | undefined;
  for (const part of only ?? []) if (!ALL_PARTS.includes(part)) throw new Error(`unknown part in --only: ${part}`);
  return {
    quick: flag('quick'),
    cpuProf: flag('cpu-prof'),
    parts: new Set<Part>(only ?? ALL_PARTS),
    poolSize: Number(value('pool') ?? 10),
    serverNodeArgs: (value('server-node-args') ?? '').split(' ').filter(Boolean),
  };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const reportOf = process.argv.find((a) => a.startsWith('--report='))?.slice('--report='.length);
  if (reportOf) {
    // Re-renders the table of a results file (e.g. for bench/README.md) without running anything.
    const saved = JSON.parse(await readFile(reportOf, 'utf8')) as BenchResults;
    process.stdout.write(`${markdownReport({ ...saved, evaluation: evaluate(saved) })}\n`);
    return 0;
  }
  const started = Date.now();
  const progress = (message: string) =>
    process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}\n`);
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'aq-bench-'));
  progress(`mode ${args.quick ? 'quick' : 'full'}; server logs in ${logDir}`);
  const pg = await startBenchPostgres(process.env.DATABASE_URL, (m) => progress(m));
  stopPostgres = () => pg.stop();
  try {
    const settings = await pg.settings();
    const machine = await machineInfo();
    progress(
      `${settings.version} (${pg.kind}): shared_buffers=${settings.shared_buffers} ` +
        `synchronous_commit=${settings.synchronous_commit} max_connections=${settings.max_connections} fsync=${settings.fsync}`,
    );
    progress(`machine: ${machine.nproc} cores, ${machine.memGb} GB, Node ${machine.node}, load ${machine.loadAvg}`);
    const ctx: Ctx = {
      quick: args.quick,
      sizes: args.quick ? QUICK : FULL,
      pg,
      poolSize: args.poolSize,
      logDir,
      // The server runs with the flags it has in production (npm start, Dockerfile); extra flags after.
      serverNodeArgs: [
        ...SERVER_NODE_FLAGS,
        ...args.serverNodeArgs,
        ...(args.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(logDir, 'profiles')}`] : []),
      ],
      progress,
    };
    const results: BenchResults = {
      date: new Date().toISOString(),
      mode: args.quick ? 'quick' : 'full',
      machine,
      postgres: { kind: pg.kind, ...settings },
      poolSize: args.poolSize,
      sizes: ctx.sizes,
      extra: {},
    };
    for (const phase of PHASES.filter((p) => args.parts.has(p.part))) {
      progress(`phase ${phase.part}: ${phase.title}`);
      await phase.run(ctx, results);
    }
    results.machine.loadAvgEnd = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    results.elapsedSeconds = Math.round((Date.now() - started) / 1000);
    const evaluation = evaluate(results);
    results.evaluation = evaluation;
    const report = markdownReport(results);
    process.stdout.write(`\n${report}\n`);
    await mkdir(path.join(REPO_ROOT, 'bench/results'), { recursive: true });
    const stamp = results.date.slice(0, 19).replace(/:/g, '-');
    // Quick runs are smoke tests: their JSON is git-ignored (*.tmp); only full runs are kept.
    const file = path.join(REPO_ROOT, 'bench/results', args.quick ? `${stamp}-quick.json.tmp` : `${stamp}.json`);
    await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
    progress(`results written to ${path.relative(REPO_ROOT, file)} (${results.elapsedSeconds} s)`);
    const failedGates = evaluation.gates.filter((g) => !g.passed);
    if (failedGates.length > 0) {
      progress(
        `hard gates failed: ${failedGates.map((g) => g.name).join(', ')}${args.quick ? ' (quick: not fatal)' : ''}`,
      );
      return args.quick ? 0 : 1;
    }
    return 0;
  } finally {
    killAllChildren();
    await pg.stop().catch(() => {});
    stopPostgres = undefined;
  }
}

/** Drops this run's databases and stops an embedded PostgreSQL; set while one is running. */
let stopPostgres: (() => Promise<void>) | undefined;

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping child processes and dropping the run's databases\n`);
    killAllChildren();
    const stop = stopPostgres?.() ?? Promise.resolve();
    const deadline = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    Promise.race([stop.catch(() => {}), deadline]).finally(() => process.exit(130));
  });
}
process.on('exit', () => killAllChildren());

main().then(
  (code) => {
    if (!interrupted) process.exit(code);
  },
  (error: unknown) => {
    // After Ctrl-C the killed children fail the pending step; the signal handler finishes the exit.
    if (interrupted) return;
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}${causeOf(error)}\n`,
    );
    killAllChildren();
    process.exit(2);
  },
);

/** An error's cause, when it has one (e.g. fetch's "fetch failed" hides ECONNRESET there). */
function causeOf(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause === undefined ? '' : ` (cause: ${String(cause)})`;
}
