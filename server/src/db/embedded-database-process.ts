import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { DataPaths, Log } from './embedded-database-files.ts';
import { parsePid, readOptional } from './embedded-database-files.ts';

const execFileAsync = promisify(execFile);

// Why 50 ms: a postmaster stops in 0.1–1 s; polling this often adds little latency and costs nothing.
const POLL_MS = 50;
// Why 10 s: a fast shutdown (SIGINT) aborts transactions and writes a checkpoint, which can take
// seconds on a loaded 2-core machine; beyond that it is stuck and gets SIGKILL.
const FAST_SHUTDOWN_MS = 10_000;
// Why 5 s: after SIGKILL the kernel frees a process almost at once; this only covers a starved scheduler.
const KILL_WAIT_MS = 5_000;

type ProcInfo = { ppid: number; zombie: boolean; command: string };

const HAS_PROC = existsSync('/proc/self/stat');

async function readLinuxProc(pid: number): Promise<ProcInfo | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces or parentheses: the fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return { ppid: Number(fields[1]), zombie: fields[0] === 'Z', command: cmdline.split('\0').join(' ') };
  } catch {
    return undefined;
  }
}

/** Fallback for systems without /proc (macOS developers); `ps` exits non-zero for a missing pid. */
async function readPs(pid: number): Promise<ProcInfo | undefined> {
  try {
    const { stdout } = await execFileAsync('ps', ['-o', 'ppid=,stat=,args=', '-p', String(pid)]);
    const match = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(stdout.trim());
    if (!match) return undefined;
    return { ppid: Number(match[1]), zombie: match[2]?.startsWith('Z') ?? false, command: `${match[3]} ` };
  } catch {
    return undefined;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone: nothing to signal.
  }
}

/**
 * Info about a running process, or undefined if it is gone. A zombie counts as gone: an orphaned
 * postmaster is re-parented to PID 1, which in containers often never reaps it.
 */
async function liveProcess(pid: number): Promise<ProcInfo | undefined> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return undefined;
  }
  const info = HAS_PROC ? await readLinuxProc(pid) : await readPs(pid);
  return info?.zombie ? undefined : info;
}

export async function isAlive(pid: number): Promise<boolean> {
  return (await liveProcess(pid)) !== undefined;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
}

/** Live children of `pid` (Linux only): the postmaster's backends, so a SIGKILL can take them too. */
async function childPids(pid: number): Promise<number[]> {
  if (!HAS_PROC) return [];
  const entries = await readdir('/proc');
  const children: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const info = await readLinuxProc(Number(entry));
    if (info?.ppid === pid && !info.zombie) children.push(Number(entry));
  }
  return children;
}

/**
 * Fast shutdown (SIGINT) of a postmaster, waiting for it to exit; if it has not exited in time,
 * SIGKILL it together with its backends (left alive, they would keep the old shared memory attached
 * and the next start would refuse to run).
 */
export async function stopPostmaster(pid: number): Promise<void> {
  signal(pid, 'SIGINT');
  if (await waitFor(async () => !(await isAlive(pid)), FAST_SHUTDOWN_MS)) return;
  const victims = [pid, ...(await childPids(pid))];
  for (const victim of victims) signal(victim, 'SIGKILL');
  const allGone = async () => (await Promise.all(victims.map(isAlive))).every((alive) => !alive);
  if (!(await waitFor(allGone, KILL_WAIT_MS))) throw new Error(`embedded postgres: pid ${pid} survived SIGKILL`);
}

/** Throws when the live postmaster belongs to a live Node process (a concurrent user of the dir). */
async function assertNotOwned(info: ProcInfo, paths: DataPaths): Promise<void> {
  const owner = parsePid(await readOptional(paths.ownerFile));
  if (owner !== undefined && info.ppid === owner && (await isAlive(owner))) {
    throw new Error(`embedded postgres: ${paths.pgDir} is in use by a postgres started by live process ${owner}`);
  }
}

/**
 * Strategy for a postmaster.pid left behind by a run that did not stop cleanly (e.g. SIGKILL):
 * - pid alive, a postgres for this data dir, and its parent is not the live Node process that
 *   started it (so it is orphaned): stop it (SIGINT, then SIGKILL after FAST_SHUTDOWN_MS) and start
 *   a fresh one. We do not adopt it: we would have no ChildProcess to watch, its stderr pipe is
 *   dead, and it may run with another port; a restart costs well under a second.
 * - pid dead, a zombie, or reused by an unrelated process: the file is stale. Postgres itself would
 *   refuse to start if the pid belongs to another `postgres`-user process (e.g. a system
 *   PostgreSQL), so we remove the file.
 * - pid alive and owned by a live Node process: throw, never kill a cluster someone is using.
 */
export async function clearStalePostmaster(paths: DataPaths, log: Log): Promise<void> {
  const text = await readOptional(paths.pidFile);
  if (text === undefined) return;
  const pid = parsePid(text);
  const info = pid === undefined ? undefined : await liveProcess(pid);
  if (pid !== undefined && info?.command.includes('postgres') && info.command.includes(` -D ${paths.pgDir} `)) {
    await assertNotOwned(info, paths);
    log('embedded postgres: stopping an orphaned postgres left by a killed process', { pid });
    await stopPostmaster(pid);
  } else {
    log('embedded postgres: removing a stale postmaster.pid', { pid });
  }
  await rm(paths.pidFile, { force: true });
}
