import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The repository root (the server and the CLI run with it as their working directory). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MAIN_TS = path.join(REPO_ROOT, 'server/src/main.ts');
export const CLI_BIN = path.join(REPO_ROOT, 'server/bin/asyncqueue.js');

// Why 100 ms: readiness and process polls are cheap; this keeps measured start times precise.
const POLL_MS = 100;
// Why 30 000: more of a child's output than a failure message needs is noise.
const KEPT_OUTPUT_CHARS = 30_000;

/** A port that was free a moment ago: the kernel's choice for port 0, released at once. */
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

/**
 * The child's environment: the test process's own, minus every variable the server reads (so the
 * run's DATABASE_URL or a developer's ASYNCQUEUE_* setting never leaks in), plus `env`.
 */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(base)) {
    if (
      name.startsWith('ASYNCQUEUE_') ||
      ['DATABASE_URL', 'PORT', 'HOST', 'PUBLIC_URL', 'TRUST_PROXY', 'LOG_LEVEL'].includes(name)
    ) {
      delete base[name];
    }
  }
  return { ...base, ...env };
}

export type ServerProcess = {
  child: ChildProcess;
  url: string;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr tails, for failure messages. */
  describe(): string;
  exited(): boolean;
  /** Polls /readyz until 200; throws (with the output) if the process exits or the deadline passes. Returns ms waited. */
  waitReady(timeoutMs: number): Promise<number>;
  /** Resolves with the exit code and signal, or rejects after the deadline. */
  waitExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

function keep(buffer: { text: string }, chunk: unknown): void {
  buffer.text += String(chunk);
  if (buffer.text.length > KEPT_OUTPUT_CHARS * 2) buffer.text = buffer.text.slice(-KEPT_OUTPUT_CHARS);
}

/** `node server/src/main.ts` (or `args`) on Node 24 (process.execPath) with the given environment. */
export function spawnServer(env: Record<string, string>, port: number, args: string[] = [MAIN_TS]): ServerProcess {
  const started = Date.now();
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: childEnv({ ...env, PORT: String(port), HOST: '127.0.0.1' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { text: '' };
  const err = { text: '' };
  child.stdout?.on('data', (chunk) => keep(out, chunk));
  child.stderr?.on('data', (chunk) => keep(err, chunk));
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const describe = () =>
    `pid ${child.pid}, exit ${JSON.stringify(exit ?? null)}\n--- stdout (tail) ---\n${out.text.slice(-4000)}\n--- stderr (tail) ---\n${err.text.slice(-4000)}`;
  return {
    child,
    url,
    stdout: () => out.text,
    stderr: () => err.text,
    describe,
    exited: () => exit !== undefined,
    async waitReady(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (exit) throw new Error(`server exited before it was ready: ${describe()}`);
        try {
          const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
          await res.arrayBuffer();
          if (res.status === 200) return Date.now() - started;
        } catch {
          // not listening yet
        }
        if (Date.now() >= deadline) throw new Error(`server not ready after ${timeoutMs} ms: ${describe()}`);
        await new Promise((done) => setTimeout(done, POLL_MS));
      }
    },
    async waitExit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`server did not exit within ${timeoutMs} ms: ${describe()}`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([exitPromise, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

type PsRow = { pid: number; ppid: number; stat: string; args: string };

async function ps(): Promise<PsRow[]> {
  const { stdout } = await execFileAsync('ps', ['-eo', 'pid=,ppid=,stat=,args='], { maxBuffer: 16 * 1024 * 1024 });
  const rows: PsRow[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (match) rows.push({ pid: Number(match[1]), ppid: Number(match[2]), stat: match[3] ?? '', args: match[4] ?? '' });
  }
  return rows;
}

/** Live (non-zombie) postgres processes whose command line names a path under `dataDir`. */
export async function postgresPidsFor(dataDir: string): Promise<number[]> {
  return (await ps())
    .filter((row) => !row.stat.startsWith('Z') && /postgres/.test(row.args) && row.args.includes(dataDir))
    .map((row) => row.pid);
}

/** Polls until `condition` holds; false if the deadline passes first. */
export async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * Cleanup for afterAll: stops any postgres still running for `dataDir` (SIGINT, then SIGKILL with
 * its backends). Returns the pids it found, so a test can tell that something was left behind.
 */
export async function killPostgresFor(dataDir: string): Promise<number[]> {
  const found = await postgresPidsFor(dataDir);
  for (const pid of found) signal(pid, 'SIGINT');
  const gone = await waitUntil(async () => (await postgresPidsFor(dataDir)).length === 0, 10_000);
  if (!gone) {
    const rows = await ps();
    for (const pid of found) {
      for (const row of rows) if (row.ppid === pid) signal(row.pid, 'SIGKILL');
      signal(pid, 'SIGKILL');
    }
  }
  return found;
}

export type CliResult = { code: number | null; stdout: string; stderr: string };
export type ExitResult = CliResult & { ms: number };

/**
 * `node <script> …args` with the given environment (see childEnv) and the repository root as its
 * working directory, until it exits: its code, output and how long it ran (`ms`). Never rejects on a
 * non-zero exit; rejects (after SIGKILL) when it is still running after `timeoutMs`.
 */
export function runToExit(
  script: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
  what = path.relative(REPO_ROOT, script),
): Promise<ExitResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: REPO_ROOT,
      env: childEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** `node server/bin/asyncqueue.js …args` with the given environment; never rejects on a non-zero exit. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  return runToExit(CLI_BIN, args, env, timeoutMs, `asyncqueue ${args.join(' ')}`);
}
