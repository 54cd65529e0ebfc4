import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedDatabase, startEmbeddedDatabase } from './embedded-database.ts';

const NODE = resolve(import.meta.dirname, '../../../node_modules/.bin/node');
const MODULE_URL = pathToFileURL(resolve(import.meta.dirname, 'embedded-database.ts')).href;
// Why 60 s: the child starts Node and Postgres (initdb-free, but on a loaded 2-core machine).
const CHILD_READY_MS = 60_000;
// Why 10 s: a SIGKILLed process is gone almost at once; this only covers a starved scheduler.
const GONE_MS = 10_000;
// Why 50 ms: cheap to poll /proc, and short enough not to stretch the test.
const POLL_MS = 50;

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() >= deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Pids of live (non-zombie) processes whose command line mentions `dir`: the Postgres servers on it. */
async function processesUsing(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(dir)) pids.push(Number(entry));
  }
  return pids;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return true;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Starts the module in a separate Node process; resolves with its URL once it printed it. */
function startInChild(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const script = `const { startEmbeddedDatabase } = await import(process.env.MODULE_URL);
const db = await startEmbeddedDatabase({ dataDir: process.env.DATA_DIR, log: (m, e) => console.error(m, e ?? '') });
console.log('URL ' + db.url);`;
  const child = spawn(NODE, ['--input-type=module', '-e', script], {
    env: { ...process.env, MODULE_URL, DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`child not ready: ${stderr}`)), CHILD_READY_MS);
    child.stdout?.on('data', (chunk) => {
      stdout += String(chunk);
      const match = /^URL (\S+)$/m.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        done({ child, url: match[1] });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`child exited (${code}) before printing its URL: ${stderr}`));
    });
  });
}

describe('startEmbeddedDatabase', () => {
  let dataDir = '';
  let db: EmbeddedDatabase | undefined;
  const logs: string[] = [];
  const timings: Record<string, number> = {};
  const log = (msg: string, extra?: Record<string, unknown>) => logs.push(`${msg} ${JSON.stringify(extra ?? {})}`);

  async function timedStart(label: string): Promise<EmbeddedDatabase> {
    const started = performance.now();
    db = await startEmbeddedDatabase({ dataDir, log });
    timings[label] = Math.round(performance.now() - started);
    return db;
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'asyncqueue-embedded-pg-'));
  });

  afterAll(async () => {
    await db?.stop();
    // Safety net: never leave a Postgres behind, even when a test failed half-way.
    for (const pid of await processesUsing(dataDir)) process.kill(pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    console.log('embedded postgres timings (ms):', timings);
  });

  it('initialises an empty data dir, serves queries and stops (twice)', async () => {
    const first = await timedStart('firstInit');
    expect(first.url).toMatch(/^postgres:\/\/postgres:[0-9a-f]{48}@127\.0\.0\.1:\d+\/asyncqueue$/);
    expect(await query(first.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    await query(first.url, 'create table kept (v text)');
    await query(first.url, "insert into kept values ('before restart')");
    expect((await stat(join(dataDir, 'password'))).mode & 0o777).toBe(0o600);
    expect(Number(await readFile(join(dataDir, 'port'), 'utf8'))).toBe(portOf(first.url));
    await first.stop();
    await first.stop();
    expect(await processesUsing(dataDir)).toEqual([]);
    expect(logs.filter((line) => /failed|unexpectedly/.test(line))).toEqual([]);
  });

  it('keeps its data across a restart', async () => {
    const again = await timedStart('restart');
    expect(await query(again.url, 'select v from kept')).toEqual([{ v: 'before restart' }]);
    await again.stop();
  });

  it('recovers when the process that started it was killed with SIGKILL', async () => {
    const { child, url } = await startInChild(dataDir);
    await query(url, "insert into kept values ('before sigkill')");
    const orphan = Number((await readFile(join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    child.kill('SIGKILL');
    await waitFor(() => child.exitCode !== null || child.signalCode !== null, GONE_MS, 'the child to die');
    expect(isRunning(orphan)).toBe(true);
    expect(await processesUsing(dataDir)).toContain(orphan);

    const recovered = await timedStart('afterSigkill');
    expect(await processesUsing(dataDir)).not.toContain(orphan);
    expect(await query(recovered.url, 'select v from kept order by v')).toEqual([
      { v: 'before restart' },
      { v: 'before sigkill' },
    ]);
    expect(logs.some((line) => line.includes('stopping an orphaned postgres'))).toBe(true);
    await recovered.stop();
  });

  it('removes a postmaster.pid whose pid is not a postgres for this dir', async () => {
    await writeFile(join(dataDir, 'pg', 'postmaster.pid'), `${process.pid}\n${dataDir}\n`);
    const started = await timedStart('stalePidFile');
    expect(await query(started.url, 'select count(*)::int as n from kept')).toEqual([{ n: 2 }]);
    await started.stop();
  });

  it('keeps its port across restarts and moves off a port someone else took', async () => {
    const saved = Number(await readFile(join(dataDir, 'port'), 'utf8'));
    const same = await timedStart('samePort');
    expect(portOf(same.url)).toBe(saved);
    await same.stop();

    const squatter: Server = createServer();
    await new Promise<void>((done) => squatter.listen({ host: '127.0.0.1', port: saved }, done));
    try {
      const moved = await timedStart('takenPort');
      expect(portOf(moved.url)).not.toBe(saved);
      expect(Number(await readFile(join(dataDir, 'port'), 'utf8'))).toBe(portOf(moved.url));
      expect(await query(moved.url, 'select count(*)::int as n from kept')).toEqual([{ n: 2 }]);
      await moved.stop();
    } finally {
      await new Promise((done) => squatter.close(done));
    }
  });

  it('leaves no postgres process behind', async () => {
    await waitFor(async () => (await processesUsing(dataDir)).length === 0, GONE_MS, 'postgres to exit');
  });
});
