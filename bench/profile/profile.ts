/**
 * Where the server's time and memory go, for one scenario (not part of `npm run bench`):
 *   node bench/profile/profile.ts <create|trpc|direct|callback|waiting> [count] [--cpu-prof] [--heap]
 * Starts the server with the probe preload (statement counts, memory), runs `count` tasks of the
 * scenario through the bench load generator, and prints statements per task and the server's
 * memory. --cpu-prof writes a V8 CPU profile of the server (open it in Chrome DevTools or
 * speedscope); --heap writes a heap snapshot at the end.
 */
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { forkLoad, killAllChildren, startServer } from '../lib/children.ts';
import { openCounter, startBenchPostgres } from '../lib/postgres.ts';
import { sleep, waitFor } from '../lib/stats.ts';

const [scenario = 'create', countArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const count = Number(countArg ?? 500);
const cpuProf = process.argv.includes('--cpu-prof');
const heap = process.argv.includes('--heap');
const KINDS: Record<string, { kind: string; role: 'all' | 'api'; path?: string }> = {
  create: { kind: 'direct', role: 'api' },
  trpc: { kind: 'direct', role: 'api', path: '/trpc/tasks.create' },
  direct: { kind: 'direct', role: 'all' },
  callback: { kind: 'callback', role: 'all' },
  waiting: { kind: 'waiting', role: 'all' },
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
    env: { BENCH_PROBE_FILE: probeFile, ...(heap ? { BENCH_HEAP_SNAPSHOT: '1' } : {}) },
  });
  let seq = 0;
  type Probe = {
    seq: number;
    memory: object;
    memoryAfterGc?: object;
    spaces?: object;
    queries: Record<string, number>;
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
  const started = Date.now();
  const cpuBefore = await server.cpuSeconds();
  if (spec.path) {
    await client.rpc.call('createLoad', { path: spec.path, concurrency: 32, durationMs: 5_000 });
  } else {
    await client.rpc.call('createBatch', { count, concurrency: 32, kind: spec.kind });
  }
  const finalStatus = { direct: 'completed', callback: 'completed', waiting: 'waiting' }[scenario];
  if (finalStatus) {
    await waitFor(
      'tasks to settle',
      async () =>
        (await counter.scalar('select count(*) from tasks where status = $1', [finalStatus])) >= count
          ? true
          : undefined,
      300_000,
    );
    if (scenario === 'callback') await sleep(2_000);
  }
  const elapsed = (Date.now() - started) / 1000;
  const cpu = (await server.cpuSeconds()) - cpuBefore;
  const tasks = await counter.scalar('select count(*) from tasks');
  const after = await dump();
  const total = Object.values(after.queries).reduce((a, b) => a + b, 0);
  console.log(
    `${scenario}: ${tasks} tasks in ${elapsed.toFixed(1)} s; ${(total / tasks).toFixed(2)} statements per task; server CPU ${cpu.toFixed(1)} s (${((cpu / tasks) * 1000).toFixed(2)} ms per task)`,
  );
  for (const [sql, n] of Object.entries(after.queries).slice(0, 25)) console.log(`  ${(n / tasks).toFixed(2)}  ${sql}`);
  console.log('server memory after (MB):', JSON.stringify(after.memory));
  console.log('server memory after a full GC (MB):', JSON.stringify(after.memoryAfterGc));
  console.log('V8 heap spaces (MB):', JSON.stringify(after.spaces));
  console.log('rss now (MB):', JSON.stringify(await server.rssMb()));
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
