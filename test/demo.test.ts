import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm run demo` as a user runs it: no DATABASE_URL (the embedded PostgreSQL), its own data dir,
 * the fake provider on 127.0.0.77. Lines are timestamped as they arrive, to prove the progress
 * is printed live and not all at the end.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
/** Why 120 s: the first run initialises a PostgreSQL cluster; on a loaded CI machine that is slow. */
const DEMO_DEADLINE_MS = 120_000;

type Line = { text: string; at: number };
type DemoRun = { code: number | null; lines: Line[]; stderr: string };

let work: string;
let dataDir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'aq-demo-'));
  await chmod(work, 0o755);
  dataDir = path.join(work, 'data');
});
afterAll(async () => {
  // A demo that overran its deadline: stop its whole process group (npm and the node under it).
  for (const child of children) if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  await rm(work, { recursive: true, force: true });
});

function runDemo(): Promise<DemoRun> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.join(ROOT, 'node_modules/.bin')}${path.delimiter}${process.env.PATH ?? ''}`,
    ASYNCQUEUE_DEMO_DATA_DIR: dataDir,
  };
  delete env.DATABASE_URL;
  delete env.LOG_LEVEL;
  const child = spawn('npm', ['run', '-s', 'demo'], { cwd: ROOT, env, detached: true });
  children.add(child);
  const lines: Line[] = [];
  let partial = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push({ text, at: Date.now() });
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), DEMO_DEADLINE_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (partial) lines.push({ text: partial, at: Date.now() });
      resolve({ code, lines, stderr });
    });
  });
}

/** Progress lines of one task: `[  2.4s] image       completed  done` → {elapsed, status, at}. */
function progressOf(run: DemoRun, label: string) {
  const pattern = new RegExp(`^\\[\\s*(\\d+\\.\\d)s\\] ${label}\\s+(\\w+)\\s*(.*)$`);
  return run.lines.flatMap((line) => {
    const m = pattern.exec(line.text);
    return m ? [{ elapsed: Number(m[1]), status: m[2] ?? '', detail: m[3] ?? '', at: line.at }] : [];
  });
}

describe('npm run demo', () => {
  it(
    'runs on the embedded database with no setup, shows each change live, then the results',
    async () => {
      const run = await runDemo();
      const text = run.lines.map((l) => l.text).join('\n');
      expect(run.code, `${text}\n${run.stderr}`).toBe(0);
      expect(text).toContain(`(embedded PostgreSQL in ${dataDir})`);
      expect(existsSync(path.join(dataDir, 'pg', 'PG_VERSION'))).toBe(true);
      expect(text).toMatch(
        /provider {2}http:\/\/127\.0\.0\.77:\d+ \(a fake AI provider; the network guard allows 127\.0\.0\.77\/32 only\)/,
      );

      const image = progressOf(run, 'image');
      expect(image[0]?.status).toBe('pending');
      expect(image.map((p) => p.status)).toContain('waiting');
      expect(image.at(-1)?.status).toBe('completed');
      // The provider calls back ~2 s after it gets the job: the first and last lines are at least
      // that far apart, in the demo's own clock and in when they reached us (printed live, not at
      // the end). Under load the gap only grows.
      const imageFirst = image[0];
      const imageDone = image.at(-1);
      expect((imageDone?.elapsed ?? 0) - (imageFirst?.elapsed ?? 0)).toBeGreaterThanOrEqual(1.8);
      expect((imageDone?.at ?? 0) - (imageFirst?.at ?? 0)).toBeGreaterThanOrEqual(1_500);

      const transcript = progressOf(run, 'transcript');
      expect(transcript[0]?.status).toBe('pending');
      expect(transcript.map((p) => p.status)).toContain('polling');
      expect(transcript.some((p) => p.status === 'polling' && /provider says "(queued|running)/.test(p.detail))).toBe(
        true,
      );
      expect(transcript.at(-1)?.status).toBe('completed');
      // The provider's job takes ~4 s; the transcript's lines arrive spread over that time.
      expect((transcript.at(-1)?.at ?? 0) - (transcript[0]?.at ?? 0)).toBeGreaterThanOrEqual(3_000);

      expect(text).toMatch(
        /^ {2}image {7}completed in \d+\.\d s → \{"url":"https:\/\/cdn\.example\.com\/img_\d+\.png","prompt":"a lighthouse at dawn, watercolor"\}$/m,
      );
      expect(text).toMatch(
        /^ {2}transcript {2}completed in \d+\.\d s → "Hello from the demo provider: your audio, as text\."$/m,
      );
      expect(text).toContain('Webhooks    2 delivered, signatures verified: task.completed, task.completed');
      expect(text).toMatch(
        /Guard {7}a task to http:\/\/127\.0\.0\.1:\d+\/healthz was refused; only 127\.0\.0\.77\/32 is allowed/,
      );
      expect(run.lines.at(-1)?.text).toBe('Demo finished: both tasks completed.');
    },
    DEMO_DEADLINE_MS + 10_000,
  );

  it(
    'runs again on the same data dir',
    async () => {
      const run = await runDemo();
      const text = run.lines.map((l) => l.text).join('\n');
      expect(run.code, `${text}\n${run.stderr}`).toBe(0);
      expect(progressOf(run, 'image').at(-1)?.status).toBe('completed');
      expect(progressOf(run, 'transcript').at(-1)?.status).toBe('completed');
      expect(run.lines.at(-1)?.text).toBe('Demo finished: both tasks completed.');
    },
    DEMO_DEADLINE_MS + 10_000,
  );
});
