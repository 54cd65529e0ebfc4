import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, procCpuSeconds, procRssMb, REPO_ROOT, stopChild, track } from './children.ts';
import { sleep } from './stats.ts';

/** Why 60 s: a peer migrates its schema (graphile-worker, pg-boss) before it listens. */
const START_TIMEOUT_MS = 60_000;

export type PeerName = 'pg-boss' | 'graphile-worker' | 'bullmq';
export const PEERS: readonly PeerName[] = ['pg-boss', 'graphile-worker', 'bullmq'];

export type RunningProcess = {
  pid: number;
  url: string;
  cpuSeconds(): Promise<number>;
  rssMb(): Promise<{ rss: number; hwm: number }>;
  stop(): Promise<void>;
};

/** `node bench/peers/<name>.ts` in its own process; ready once its create endpoint answers. */
export async function startPeer(name: PeerName, env: Record<string, string>, logDir: string): Promise<RunningProcess> {
  const port = await freePort();
  await mkdir(logDir, { recursive: true });
  const logFile = path.join(logDir, `peer-${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = track(
    spawn(process.execPath, [path.join(REPO_ROOT, 'bench/peers', `${name}.ts`)], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), ...env },
      stdio: ['ignore', fd, fd],
    }),
  );
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`peer ${name} exited during start:\n${(await readFile(logFile, 'utf8')).slice(-3000)}`);
    }
    // Any HTTP answer means it listens (the GET itself is not a create: its body is empty).
    const up = await fetch(`${url}/ready`, { method: 'HEAD', signal: AbortSignal.timeout(1000) }).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`peer ${name} not listening after ${START_TIMEOUT_MS} ms (log: ${logFile})`);
    }
    await sleep(100);
  }
  const pid = child.pid as number;
  return {
    pid,
    url,
    cpuSeconds: () => procCpuSeconds(pid),
    rssMb: () => procRssMb(pid),
    stop: () => stopChild(child, 10_000),
  };
}

/**
 * A private redis-server on a free port, durable like PostgreSQL's default as far as Redis goes:
 * AOF on, fsync every second. Its data directory is under the run's log directory.
 */
export async function startRedis(logDir: string): Promise<RunningProcess> {
  const port = await freePort();
  const dir = path.join(logDir, `redis-${port}`);
  await mkdir(dir, { recursive: true });
  const child = track(
    spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--save',
        '',
        '--logfile',
        path.join(dir, 'redis.log'),
      ],
      { stdio: 'ignore' },
    ),
  );
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (spawnError) throw new Error(`cannot start redis-server (Debian: apt-get install redis-server): ${spawnError}`);
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}); log in ${dir}`);
    if (await pingRedis(port)) break;
    if (Date.now() > deadline) throw new Error('redis-server not answering');
    await sleep(50);
  }
  const pid = child.pid as number;
  return {
    pid,
    url,
    cpuSeconds: () => procCpuSeconds(pid),
    rssMb: () => procRssMb(pid),
    stop: () => stopChild(child, 10_000),
  };
}

async function pingRedis(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
  });
}
