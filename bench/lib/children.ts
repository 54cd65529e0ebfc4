import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateApiKey } from '../../server/src/auth/api-key-format.ts';
import { type RpcClient, rpcClient } from './rpc.ts';
import { sleep } from './stats.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN_TS = path.join(REPO_ROOT, 'server/src/main.ts');

const live = new Set<ChildProcess>();
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

export function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** SIGKILLs every child still running (exit, SIGINT, crash): nothing of a run outlives it. */
export function killAllChildren(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Fixed side pools of server/src/app.ts: the rate limiters' pool, the LISTEN client, pg-boss's LISTEN client. */
export const SIDE_POOL_SIZE = 6;
export const DEDICATED_CONNECTIONS = 2;

export type ServerOptions = {
  databaseUrl: string;
  /** ASYNCQUEUE_DB_POOL_SIZE: the MikroORM pool and the pg-boss pool each get this many. */
  poolSize: number;
  role?: 'all' | 'api' | 'worker';
  logDir: string;
  name: string;
  /** Extra node flags for the server (e.g. --cpu-prof). */
  nodeArgs?: string[];
  env?: Record<string, string>;
};

export type BenchServer = {
  pid: number;
  url: string;
  apiKey: string;
  poolSize: number;
  /** Connections the server may open at most: two pools, the side pool and two LISTEN clients. */
  connectionBudget: number;
  rssMb(): Promise<{ rss: number; hwm: number }>;
  /** CPU time (user + system) the server has used, in seconds: a figure the noisy neighbours do not inflate much. */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
};

/** `node server/src/main.ts` in its own process, as in production; output goes to a log file. */
export async function startServer(opts: ServerOptions): Promise<BenchServer> {
  const port = await freePort();
  const apiKey = generateApiKey();
  await mkdir(opts.logDir, { recursive: true });
  const logFile = path.join(opts.logDir, `${opts.name}.server.log`);
  const fd = openSync(logFile, 'a');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    DATABASE_URL: opts.databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    ASYNCQUEUE_ROLE: opts.role ?? 'all',
    ASYNCQUEUE_DATA_DIR: path.join(opts.logDir, `${opts.name}.data`),
    ASYNCQUEUE_ALLOWED_CIDRS: '127.0.0.0/8',
    ASYNCQUEUE_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ASYNCQUEUE_BOOTSTRAP_API_KEY: apiKey,
    // Load tests must measure the service, not the per-team and per-IP limits (they still run).
    ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '1000000000',
    ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '1000000000',
    ASYNCQUEUE_DB_POOL_SIZE: String(opts.poolSize),
    LOG_LEVEL: 'info',
    // Profiling switches of bench/profile/probe.ts pass through (inert without --import of the probe).
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_'))),
    ...opts.env,
  };
  for (const name of Object.keys(env)) if (env[name] === undefined) delete env[name];
  const child = track(
    spawn(process.execPath, [...(opts.nodeArgs ?? []), MAIN_TS], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', fd, fd],
    }),
  );
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = (await readFile(logFile, 'utf8').catch(() => '')).slice(-3000);
      throw new Error(`server ${opts.name} exited during start:\n${tail}`);
    }
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status === 200;
      })
      .catch(() => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server ${opts.name} not ready after 60 s (log: ${logFile})`);
    }
    await sleep(50);
  }
  const pid = child.pid as number;
  return {
    pid,
    url,
    apiKey,
    poolSize: opts.poolSize,
    connectionBudget: 2 * opts.poolSize + SIDE_POOL_SIZE + DEDICATED_CONNECTIONS,
    rssMb: () => procRssMb(pid),
    cpuSeconds: () => procCpuSeconds(pid),
    // Why 30 s: the server's own drain deadline is 25 s; a --cpu-prof profile is written at exit.
    stop: () => stopChild(child, 30_000),
  };
}

export type LoadProcess = { rpc: RpcClient; pid: number; stop(): Promise<void> };

/** A load generator script in its own process (Node 24, IPC channel for commands and results). */
export function forkLoad(script: string, nodeArgs: string[] = []): LoadProcess {
  const child = track(
    fork(path.join(REPO_ROOT, 'bench/load', script), [], {
      cwd: REPO_ROOT,
      execPath: process.execPath,
      execArgv: nodeArgs,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  return { rpc: rpcClient(child), pid: child.pid as number, stop: () => stopChild(child, 5_000) };
}

/** VmRSS and VmHWM (the peak) of a process, in MB, from /proc/<pid>/status. */
export async function procRssMb(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

/** CPU time (user + system) a process has used, in seconds, from /proc/<pid>/stat. */
export async function procCpuSeconds(pid: number): Promise<number> {
  // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesized command name): utime, stime in ticks.
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
