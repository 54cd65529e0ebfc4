/**
 * `npm run bench:hostile` (60 s) / `npm run bench:hostile -- --duration=10`: about 1,000 hostile
 * requests per second against a server process started here (on loopback only), interleaved with
 * normal traffic (create + get with a valid key). Prints whether the server stayed up, its peak RSS,
 * the normal requests' p50/p99 and the count of every status per kind. Options: --duration=S,
 * --rate=N (hostile requests per second, default 1000), --normal=N (create+get pairs per second,
 * default 4), --only=kind,kind (just these hostile kinds). Environment: HOSTILE_PROF=1 writes a CPU
 * profile of the server to /tmp/prof, HOSTILE_LOG=info keeps its request log (path printed). PostgreSQL: DATABASE_URL when set, else an embedded one (as `npm run bench`).
 * Exits 1 when the server died; the figures themselves never fail the run.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SERVER_NODE_FLAGS } from '../server/src/config/node-flags.ts';
import { keepAliveAgent, sendRequest } from '../test/helpers/keep-alive-client.ts';
import { killAllChildren, startServer } from './lib/children.ts';
import { startBenchPostgres } from './lib/postgres.ts';
import { latency } from './lib/stats.ts';
import { hostileKinds } from './load/hostile-mix.ts';
import { startHostileTargets } from './load/hostile-targets.ts';
import { runTraffic, startNormalClient, type Tally } from './load/hostile-traffic.ts';

const arg = (name: string, fallback: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const DURATION_S = arg('duration', 60);
const RATE = arg('rate', 1000);
// Why 4: eight requests a second stay inside the default team limit (600 per 60 s), which the run
// keeps, so the attacker's own team gets exactly what any team gets.
const NORMAL_PER_S = arg('normal', 4);
/** --only=kind,kind: run just these hostile kinds (names as in the report), to find what costs most. */
const ONLY = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
// Why 5 s: forty normal requests compile the request paths; a deployment under attack is warm.
const WARMUP_S = 5;
// Why 500 ms: RSS between samples is also covered by VmHWM, the kernel's own peak.
const RSS_EVERY_MS = 500;

async function main(): Promise<number> {
  const started = Date.now();
  const progress = (m: string) =>
    process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${m}\n`);
  const logDir = await mkdtemp(path.join(os.tmpdir(), 'aq-hostile-'));
  const pg = await startBenchPostgres(process.env.DATABASE_URL, progress);
  stopPostgres = () => pg.stop();
  try {
    const db = await pg.createDatabase('hostile');
    // Every limit keeps its default: the team limit (per team: the attacker's own key, of another
    // team, gets the same budget as the normal traffic's team, no more) and the per-IP limits
    // (callbacks, failed authentications): they are under test.
    const encryptionKey = randomBytes(32).toString('base64');
    const server = await startServer({
      databaseUrl: db.url,
      poolSize: 10,
      logDir,
      name: 'hostile',
      nodeArgs: [...SERVER_NODE_FLAGS, ...(process.env.HOSTILE_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [])],
      env: {
        ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '30',
        ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '600',
        ASYNCQUEUE_ENCRYPTION_KEY: encryptionKey,
        LOG_LEVEL: process.env.HOSTILE_LOG ?? 'warn',
      },
    });
    const attackerKey = await createAttackerKey(db.url, encryptionKey);
    const targets = await startHostileTargets();
    progress(`server pid ${server.pid} at ${server.url}; logs in ${logDir}; ${RATE} hostile req/s for ${DURATION_S} s`);
    const kinds = hostileKinds({
      apiKey: attackerKey,
      binaryTarget: targets.url('/binary'),
      controlTarget: targets.url('/control'),
    }).filter((kind) => !ONLY || ONLY.includes(kind.name));
    let peakRssMb = 0;
    const rssTimer = setInterval(() => {
      server
        .rssMb()
        .then((r) => (peakRssMb = Math.max(peakRssMb, r.rss, r.hwm)))
        .catch(() => {});
    }, RSS_EVERY_MS);
    // A server that has just started compiles its modules and JIT on the first requests: warm it
    // with normal traffic first (as a running deployment is), then measure under attack.
    progress(`warming the server with ${WARMUP_S} s of normal traffic`);
    await startNormalClient({
      url: server.url,
      apiKey: server.apiKey,
      okTarget: targets.url('/ok'),
      normalPerS: NORMAL_PER_S,
      durationS: WARMUP_S,
    });
    const { tally, normalMs } = await runTraffic({
      url: server.url,
      apiKey: server.apiKey,
      okTarget: targets.url('/ok'),
      kinds,
      durationS: DURATION_S,
      rate: RATE,
      normalPerS: NORMAL_PER_S,
      progress,
    });
    clearInterval(rssTimer);
    const final = await server.rssMb().catch(() => ({ rss: 0, hwm: 0 }));
    peakRssMb = Math.max(peakRssMb, final.hwm);
    const health = await sendRequest(server.url, { method: 'GET', path: '/healthz' }, keepAliveAgent(1, '127.0.0.2'));
    const up = health.status === 200;
    printReport({ up, peakRssMb, normal: latency(normalMs), tally, targetHits: targets.hits() });
    await targets.close();
    await server.stop();
    return up ? 0 : 1;
  } finally {
    killAllChildren();
    await pg.stop().catch(() => {});
  }
}

/** A key of a second team, the attacker's own (through the CLI, as an operator would make one). */
async function createAttackerKey(databaseUrl: string, encryptionKey: string): Promise<string> {
  const cli = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['server/src/cli.ts', ...args, '--json'], {
      env: { ...process.env, DATABASE_URL: databaseUrl, ASYNCQUEUE_ENCRYPTION_KEY: encryptionKey, LOG_LEVEL: 'warn' },
    }).then(({ stdout }) => JSON.parse(stdout) as Record<string, string>);
  const team = await cli('teams', 'create', '--name', 'attacker');
  const key = await cli('keys', 'create', '--team', team.id as string, '--name', 'attacker');
  return key.apiKey as string;
}

function printReport(r: {
  up: boolean;
  peakRssMb: number;
  normal: ReturnType<typeof latency>;
  tally: Tally;
  targetHits: number;
}) {
  const lines = [
    '',
    `server up: ${r.up ? 'yes' : 'no'}`,
    `peak RSS of the server: ${r.peakRssMb.toFixed(0)} MB (target < 450)`,
    `normal requests: ${r.normal.samples}, p50 ${r.normal.p50.toFixed(1)} ms, p99 ${r.normal.p99.toFixed(1)} ms, max ${r.normal.max.toFixed(0)} ms (target p99 < 1000)`,
    `calls the server made to the hostile targets: ${r.targetHits}`,
    '',
    '| kind | answers |',
    '| --- | --- |',
    ...[...r.tally].map(
      ([kind, row]) =>
        `| ${kind} | ${[...row]
          .sort()
          .map(([k, n]) => `${k}: ${n}`)
          .join(', ')} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Drops the run's database and stops an embedded PostgreSQL; set while one is running. */
let stopPostgres: (() => Promise<void>) | undefined;
process.on('SIGINT', () => {
  killAllChildren();
  // Why 10 s: dropping one database and stopping PostgreSQL takes well under a second.
  const deadline = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
  Promise.race([stopPostgres?.().catch(() => {}), deadline]).finally(() => process.exit(130));
});
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench:hostile failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    killAllChildren();
    process.exit(2);
  },
);
