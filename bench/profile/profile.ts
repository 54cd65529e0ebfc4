/**
 * Where the server's time and memory go, for one scenario (not part of `npm run bench`):
 *   node bench/profile/profile.ts <create|trpc|direct|webhook|callback|waiting> [count] [--cpu-prof] [--heap]
 *   node bench/profile/profile.ts <pickup|wake> [samples]
 * Starts the server with the probe preload (statement counts, memory, timeline), runs the scenario
 * through the bench load generator and prints statements per task, server CPU per task and the
 * server's memory; for pickup/wake, the median timeline of one sample (every statement, NOTIFY
 * and HTTP message between the client's send and the answer). --cpu-prof writes a V8 CPU profile
 * of the server (summarize it with summarize-cpuprofile.ts); --heap writes a heap snapshot.
 * BENCH_SERVER_NODE_ARGS="--max-semi-space-size=8 …" tries node flags on the server.
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LoadProcess } from '../lib/children.ts';
import { forkLoad, killAllChildren, startServer } from '../lib/children.ts';
import { openCounter, startBenchPostgres } from '../lib/postgres.ts';
import { latency, percentile, sleep, waitFor } from '../lib/stats.ts';
import { warmUpServer } from '../phases/aq-latency.ts';
import type { TraceEvent } from './probe.ts';

const [scenario = 'create', countArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const count = Number(countArg ?? 500);
const cpuProf = process.argv.includes('--cpu-prof');
const heap = process.argv.includes('--heap');
const KINDS: Record<string, { kind: string; role: 'all' | 'api'; path?: string }> = {
  create: { kind: 'direct', role: 'api' },
  trpc: { kind: 'direct', role: 'api', path: '/trpc/tasks.create' },
  direct: { kind: 'direct', role: 'all' },
  webhook: { kind: 'webhook', role: 'all' },
  callback: { kind: 'callback', role: 'all' },
  waiting: { kind: 'waiting', role: 'all' },
  pickup: { kind: 'latency', role: 'all' },
  wake: { kind: 'latency', role: 'all' },
};
const spec = KINDS[scenario];
if (!spec) throw new Error(`unknown scenario ${scenario}; one of ${Object.keys(KINDS).join(', ')}`);

const dir = await mkdtemp(path.join(os.tmpdir(), 'aq-profile-'));
const probeFile = path.join(dir, 'probe.json');
const pg = await startBenchPostgres(process.env.DATABASE_URL, (m) => console.log(m));
try {
  const db = await pg.createDatabase(`profile_${scenario}`);
  const server = await startServer({
    databaseUrl: db.url,
    poolSize: 10,
    role: spec.role,
    logDir: dir,
    name: scenario,
    nodeArgs: [
      '--import',
      './bench/profile/probe.ts',
      '--expose-gc',
      // e.g. BENCH_SERVER_NODE_ARGS=--max-old-space-size=128 to try a heap limit.
      ...(process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'profiles')}`] : []),
    ],
    env: {
      BENCH_PROBE_FILE: probeFile,
      ...(heap ? { BENCH_HEAP_SNAPSHOT: '1' } : {}),
      ...(spec.kind === 'latency' ? { BENCH_PROBE_TRACE: '1' } : {}),
    },
  });
  let seq = 0;
  type Probe = {
    seq: number;
    memory: object;
    memoryAfterGc?: object;
    spaces?: object;
    queries: Record<string, number>;
    trace: TraceEvent[];
  };
  const dump = async (): Promise<Probe> => {
    process.kill(server.pid, 'SIGUSR2');
    seq += 1;
    return waitFor(
      'the probe dump',
      async () => {
        const probe = JSON.parse(await readFile(probeFile, 'utf8').catch(() => '{"seq":0}')) as Probe;
        return probe.seq === seq ? probe : undefined;
      },
      60_000,
    );
  };
  const client = forkLoad('client.ts');
  const counter = await openCounter(db.url);
  await client.rpc.call('init', { serverUrl: server.url, apiKey: server.apiKey, connections: 40 });
  const idle = await dump();
  console.log('idle server memory (MB):', JSON.stringify(idle.memory), 'after GC:', JSON.stringify(idle.memoryAfterGc));
  const runLoad = async () => {
    const started = Date.now();
    const cpuBefore = await server.cpuSeconds();
    if (spec.path) {
      await client.rpc.call('createLoad', { path: spec.path, concurrency: 32, durationMs: 5_000 });
    } else {
      await client.rpc.call('createBatch', { count, concurrency: 32, kind: spec.kind });
    }
    const finalStatus = { direct: 'completed', webhook: 'completed', callback: 'completed', waiting: 'waiting' }[
      scenario
    ];
    if (finalStatus) {
      await waitFor(
        'tasks to settle',
        async () =>
          (await counter.scalar('select count(*) from tasks where status = $1', [finalStatus])) >= count
            ? true
            : undefined,
        300_000,
      );
      if (scenario === 'callback' || scenario === 'webhook') await sleep(2_000);
    }
    const elapsed = (Date.now() - started) / 1000;
    const cpu = (await server.cpuSeconds()) - cpuBefore;
    const tasks = await counter.scalar('select count(*) from tasks');
    const after = await dump();
    const total = Object.values(after.queries).reduce((a, b) => a + b, 0);
    console.log(
      `${scenario}: ${tasks} tasks in ${elapsed.toFixed(1)} s; ${(total / tasks).toFixed(2)} statements per task; server CPU ${cpu.toFixed(1)} s (${((cpu / tasks) * 1000).toFixed(2)} ms per task)`,
    );
    for (const [sql, n] of Object.entries(after.queries).slice(0, 25))
      console.log(`  ${(n / tasks).toFixed(2)}  ${sql}`);
    console.log('server memory after (MB):', JSON.stringify(after.memory));
    console.log('server memory after a full GC (MB):', JSON.stringify(after.memoryAfterGc));
    console.log('V8 heap spaces (MB):', JSON.stringify(after.spaces));
    console.log('rss now (MB):', JSON.stringify(await server.rssMb()));
  };
  if (spec.kind === 'latency') {
    await latencyTimeline(scenario as 'pickup' | 'wake', count > 100 ? 30 : count, client, dump);
  } else {
    await runLoad();
  }
  await counter.close();
  await client.rpc.call('close').catch(() => {});
  await client.stop();
  await server.stop();
  if (cpuProf)
    console.log(
      'cpu profiles:',
      (await readdir(path.join(dir, 'profiles'))).map((f) => path.join(dir, 'profiles', f)),
    );
  if (heap) console.log('heap snapshot:', `${probeFile}.heapsnapshot`);
  await db.drop();
} finally {
  killAllChildren();
  await pg.stop();
}

type Mark = { start: number; end: number };

/**
 * pickup/wake one at a time with the probe's timeline on: prints, for the median sample, every
 * server event between the client's send (0 ms) and the answer, and per step the median time.
 */
async function latencyTimeline(
  which: 'pickup' | 'wake',
  samples: number,
  client: LoadProcess,
  dump: () => Promise<{ trace: TraceEvent[] }>,
) {
  console.log(`warmed up: ${await warmUpServer(client)}`);
  await dump();
  const args = which === 'pickup' ? { samples, warmup: 3, gapMs: 50 } : { samples, warmup: 3, settleMs: 50 };
  const r = await client.rpc.call<{ marks: Mark[]; samplesMs: number[] }>(which, args);
  const { trace } = await dump();
  console.log(`${which}: ${JSON.stringify(latency(r.samplesMs))}`);
  const perSample = r.marks.map((m) => ({
    total: m.end - m.start,
    events: trace
      .filter((e) => e.t >= m.start - 0.5 && e.t <= m.end + 0.5)
      .sort((a, b) => a.t - b.t)
      .map((e) => ({ ...e, at: e.t - m.start })),
  }));
  const sorted = [...perSample].sort((a, b) => a.total - b.total);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  console.log(`\nmedian sample: ${median.total.toFixed(2)} ms (client send = 0 ms)`);
  for (const e of median.events) {
    const ms = e.ms === undefined ? '' : `${e.ms.toFixed(2).padStart(6)} ms`;
    console.log(
      `  +${e.at.toFixed(2).padStart(6)} ms  ${e.ev.padEnd(9)} ${ms.padEnd(10)} ${(e.app ?? '').padEnd(17)} ${e.label}`,
    );
  }
  // Per statement shape: median duration over all samples (one line per distinct step).
  const steps = new Map<string, number[]>();
  for (const s of perSample) {
    for (const e of s.events) {
      if (e.ms === undefined) continue;
      const key = `${e.ev} ${e.app ?? ''} ${e.label}`;
      steps.set(key, [...(steps.get(key) ?? []), e.ms]);
    }
  }
  // Time on the critical path that is no statement and no message: from the previous event's end
  // (a statement's or answer's end, else its instant) to each event, per event shape.
  const gaps = new Map<string, number[]>();
  for (const s of perSample) {
    let lastEnd = 0;
    for (const e of s.events) {
      const key = `${e.ev} ${e.app ?? ''} ${e.label}`;
      gaps.set(key, [...(gaps.get(key) ?? []), Math.max(0, e.at - lastEnd)]);
      lastEnd = Math.max(lastEnd, e.at + (e.ev === 'sql' ? (e.ms ?? 0) : 0));
    }
  }
  console.log('\nmedian gap before each step (since the previous event ended; count per sample):');
  for (const [key, values] of [...gaps.entries()]
    .sort((a, b) => percentile(b[1], 50) - percentile(a[1], 50))
    .slice(0, 8)) {
    console.log(
      `  ${percentile(values, 50).toFixed(2).padStart(6)} ms  ×${(values.length / perSample.length).toFixed(1)}  ${key}`,
    );
  }
  console.log('\nmedian duration per step over all samples (count per sample):');
  for (const [key, values] of [...steps.entries()].sort((a, b) => percentile(b[1], 50) - percentile(a[1], 50))) {
    console.log(
      `  ${percentile(values, 50).toFixed(2).padStart(6)} ms  ×${(values.length / perSample.length).toFixed(1)}  ${key}`,
    );
  }
}
