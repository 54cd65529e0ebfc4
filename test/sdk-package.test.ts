import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyCleanCheckout } from './helpers/clean-checkout.ts';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { runCommand, STANDALONE_COMPILER_OPTIONS } from './helpers/standalone-project.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

/**
 * The published package, as a user gets it: build, publint + attw, `npm pack`, install the tarball
 * in an empty project outside the repo (no server/, no node_modules of ours), type-check a usage
 * file with tsc, then run it (ESM and CJS) against a live server.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'node_modules/.bin');
const ENV = { ...process.env, PATH: `${BIN}${path.delimiter}${process.env.PATH ?? ''}`, NO_COLOR: '1' };
const timings: Record<string, number> = {};

/** `cmd …args` in `cwd`, with ENV (the repo's node_modules/.bin first on PATH) unless `env`. */
const run = (cmd: string, args: string[], { cwd, env = ENV }: { cwd: string; env?: NodeJS.ProcessEnv }) =>
  runCommand(cmd, args, { cwd, env });

async function timed(name: string, cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv) {
  const started = Date.now();
  const result = await run(cmd, args, { cwd, ...(env ? { env } : {}) });
  timings[name] = Date.now() - started;
  return result;
}

/**
 * The JSON of `npm pack --json`. The prepack build (tsdown) prints first on the same stdout, so the
 * JSON starts at the first line that is a lone `[`.
 */
function packJson(stdout: string): { filename: string; files: { path: string }[] }[] {
  return JSON.parse(stdout.slice(Math.max(0, stdout.search(/^\[\s*$/m))));
}

const USAGE_TS = `import {
  AsyncQueue,
  type CreateTaskParams,
  NotFoundError,
  RateLimitError,
  type Task,
  type TaskStatus,
  type WebhookEvent,
  WaitTimeoutError,
} from '@asyncqueue/sdk';

declare const process: { env: Record<string, string | undefined>; stdout: { write(s: string): void } };

const aq = new AsyncQueue({ maxRetries: 1 });
const params: CreateTaskParams = {
  targetUrl: process.env.TARGET_URL ?? 'https://example.com',
  method: 'POST',
  body: '{"prompt":"a cat"}',
  retryBackoff: 'linear',
  pollConfig: null,
};
const { task, callbackUrl, signalToken } = await aq.tasks.create(params);
const created: 'pending' | 'delayed' | 'processing' | 'waiting' | 'polling' | 'completed' | 'failed' | 'timeout' | 'cancelled' =
  task.status;
const callbackId: string | null = task.callbackId;
const maybeUrl: string | undefined = callbackUrl ?? signalToken;
const done: Task = await aq.tasks.wait(task.id, { timeoutMs: 30_000, pollSeconds: 5 });
const status: TaskStatus = done.status;
const code: number | undefined = done.result?.statusCode;
const body: string | undefined = done.result?.body;
const page = await aq.tasks.list({ status: 'completed', limit: 10 });
const hasMore: boolean = page.pagination.hasMore;
let count = 0;
for await (const t of aq.tasks.list({ limit: 1 })) count += t.id.length > 0 ? 1 : 0;
const providers = await aq.providers.list();
const interval: number = providers[0]!.pollConfig.interval;
try {
  await aq.tasks.get('019d2b00-0000-7000-8000-000000000000');
} catch (error) {
  if (error instanceof NotFoundError) {
    const notFound: { status: number; code: string } = error;
    process.stdout.write(\`not-found \${notFound.status} \${notFound.code}\\n\`);
  }
  if (error instanceof RateLimitError) {
    const after: number | undefined = error.retryAfter;
    void after;
  }
}
const isTimeout = (e: unknown): e is WaitTimeoutError => e instanceof WaitTimeoutError;
const onWebhook = (raw: string, headers: Headers, secret: string): string => {
  const event: WebhookEvent = AsyncQueue.webhooks.verify(raw, headers, secret);
  if (event.event === 'task.completed') {
    const s: 'completed' = event.task.status;
    return s;
  }
  return event.task.status;
};

// These must NOT compile (the types are real, not any); never called.
async function mustNotCompile(): Promise<unknown[]> {
  // @ts-expect-error status is a closed union
  await aq.tasks.list({ status: 'done' });
  // @ts-expect-error targetUrl is required
  const missing: CreateTaskParams = { body: '{}' };
  // @ts-expect-error method is a closed union
  const badMethod: CreateTaskParams = { targetUrl: 'https://x', method: 'FETCH' };
  // @ts-expect-error a task has no such field
  const nope = done.output;
  return [missing, badMethod, nope];
}

void [created, callbackId, maybeUrl, status, hasMore, interval, isTimeout, onWebhook, mustNotCompile];
process.stdout.write(JSON.stringify({ id: done.id, status, code, body, count: count > 0, listed: page.tasks.length }) + '\\n');
`;

const USAGE_CTS = `import { AsyncQueue, type Provider } from '@asyncqueue/sdk';
declare const process: { stdout: { write(s: string): void } };
const aq = new AsyncQueue();
aq.providers.list().then((providers: Provider[]) => process.stdout.write(providers.map((p) => p.id).join(',') + '\\n'));
`;

const USAGE_CJS = `const { AsyncQueue, ConnectionError } = require('@asyncqueue/sdk');
const aq = new AsyncQueue();
aq.providers.list().then((providers) => {
  process.stdout.write(JSON.stringify({ cjs: true, providers: providers.length, errorClass: typeof ConnectionError }) + '\\n');
});
`;

const TSCONFIG = {
  compilerOptions: {
    ...STANDALONE_COMPILER_OPTIONS,
    skipLibCheck: false,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
  },
  files: ['usage.ts', 'usage-cjs.cts'],
};

let work: string;
let project: string;
let tarball: string;
let t: TestApp;
let provider: FakeProvider;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'aq-sdk-pack-'));
  project = path.join(work, 'project');
  [t, provider] = await Promise.all([startTestApp(), startFakeProvider()]);
}, 120_000);
afterAll(async () => {
  await provider?.stop();
  await t?.stop();
  await rm(work, { recursive: true, force: true });
  process.stderr.write(`sdk-package timings (ms): ${JSON.stringify(timings)}\n`);
});

describe('@asyncqueue/sdk package', () => {
  it('the checked-in generated types match the router; the build scripts type-check', async () => {
    const check = await timed('check:types', 'npm', ['run', '-s', 'check:types', '-w', 'sdk'], ROOT);
    expect(check.stderr).toBe('');
    expect(check.stdout).toContain('sdk/src/generated/api-types.ts is up to date.');
    expect(check.code).toBe(0);
    // sdk/scripts and the tsdown config sit outside the root tsconfig's include list.
    const tsc = await timed('tsc-sdk', path.join(BIN, 'tsc'), ['-p', 'sdk/tsconfig.json'], ROOT);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);
  }, 90_000);

  it('builds ESM, CJS and self-contained declarations', async () => {
    const build = await timed('build', 'npm', ['run', 'build', '-w', 'sdk'], ROOT);
    expect(build.code, build.stderr + build.stdout).toBe(0);
    const dist = path.join(ROOT, 'sdk/dist');
    expect((await readdir(dist)).sort()).toEqual(['index.cjs', 'index.d.cts', 'index.d.ts', 'index.js']);
    for (const file of ['index.d.ts', 'index.d.cts']) {
      const dts = await readFile(path.join(dist, file), 'utf8');
      expect(dts).not.toMatch(/^\s*import\b/m);
      expect(dts).not.toMatch(/server\/|AppRouter|zod|mikro-orm|pg-boss|@trpc/);
      expect(dts).toContain('declare class AsyncQueue');
      expect(dts).toMatch(/type TaskStatus = 'pending' \| 'delayed'/);
    }
    // tRPC is bundled: the only import left is node:crypto (webhooks.verify).
    const esm = await readFile(path.join(dist, 'index.js'), 'utf8');
    expect([...esm.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1])).toEqual(['node:crypto']);
    const cjs = await readFile(path.join(dist, 'index.cjs'), 'utf8');
    expect([...cjs.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['node:crypto']);
  }, 180_000);

  it('publint and attw find no problems', async () => {
    const checks = await timed('check:package', 'npm', ['run', 'check:package', '-w', 'sdk'], ROOT);
    expect(checks.code, checks.stderr + checks.stdout).toBe(0);
    expect(checks.stdout).toContain('All good!');
    expect(checks.stdout).toContain('No problems found');
  }, 120_000);

  it('packs only dist, the README, the licence and package.json', async () => {
    const pack = await timed('pack', 'npm', ['pack', '-w', 'sdk', '--pack-destination', work, '--json'], ROOT);
    expect(pack.code, pack.stderr).toBe(0);
    const [info] = packJson(pack.stdout);
    expect(info?.files.map((f) => f.path).sort()).toEqual([
      'LICENSE',
      'README.md',
      'dist/index.cjs',
      'dist/index.d.cts',
      'dist/index.d.ts',
      'dist/index.js',
      'package.json',
    ]);
    tarball = path.join(work, info?.filename ?? '');
  }, 60_000);

  it('npm pack on a fresh clone (no sdk/dist yet) builds first: the tarball holds the JS and the .d.ts', async () => {
    const clone = path.join(work, 'clone');
    await copyCleanCheckout(clone);
    expect(existsSync(path.join(clone, 'sdk/dist'))).toBe(false);
    const out = path.join(work, 'clean-pack');
    await run('mkdir', ['-p', out], { cwd: work });
    const pack = await timed('pack-clean', 'npm', ['pack', '-w', 'sdk', '--pack-destination', out, '--json'], clone);
    expect(pack.code, pack.stderr).toBe(0);
    const [info] = packJson(pack.stdout);
    const packed = info?.files.map((f) => f.path) ?? [];
    expect(packed).toEqual(
      expect.arrayContaining(['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']),
    );
  }, 180_000);

  it('installs in an empty project, type-checks there without server/, and runs against a live server', async () => {
    await run('mkdir', ['-p', project], { cwd: work });
    await writeFile(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }),
    );
    const install = await timed(
      'install',
      'npm',
      ['install', tarball, '--offline', '--no-audit', '--no-fund', '--ignore-scripts'],
      project,
    );
    expect(install.code, install.stderr).toBe(0);
    // Nothing but the SDK: no dependencies, and no path of the server inside it.
    expect(await readdir(path.join(project, 'node_modules'))).toEqual(['.package-lock.json', '@asyncqueue']);
    const installed = path.join(project, 'node_modules/@asyncqueue/sdk');
    for (const file of await readdir(path.join(installed, 'dist'))) {
      const text = await readFile(path.join(installed, 'dist', file), 'utf8');
      expect(text, file).not.toMatch(/server\/src|\.\.\/\.\.\/server|@mikro-orm|pg-boss|from ["']zod["']/);
    }

    await writeFile(path.join(project, 'usage.ts'), USAGE_TS);
    await writeFile(path.join(project, 'usage-cjs.cts'), USAGE_CTS);
    await writeFile(path.join(project, 'usage.cjs'), USAGE_CJS);
    await writeFile(path.join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    const tsc = await timed('tsc', path.join(BIN, 'tsc'), ['-p', 'tsconfig.json'], project);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);

    const team = await t.newTeam();
    const env = {
      ...ENV,
      ASYNCQUEUE_API_KEY: team.apiKey,
      ASYNCQUEUE_BASE_URL: t.url,
      TARGET_URL: provider.url('/ok'),
    };
    // Node runs usage.ts as is (type stripping works outside node_modules).
    const esm = await timed('run-esm', 'node', ['usage.ts'], project, env);
    expect(esm.code, esm.stderr).toBe(0);
    const lines = esm.stdout.trim().split('\n');
    expect(lines[0]).toBe('not-found 404 not_found');
    const result = JSON.parse(lines[1] ?? '{}');
    expect(result).toMatchObject({ status: 'completed', code: 200, count: true, listed: 1 });
    expect(JSON.parse(result.body)).toEqual({ ok: true, id: 'gen_1' });

    const cjs = await timed('run-cjs', 'node', ['usage.cjs'], project, env);
    expect(cjs.code, cjs.stderr).toBe(0);
    expect(JSON.parse(cjs.stdout)).toEqual({ cjs: true, providers: 6, errorClass: 'function' });
  }, 180_000);
});
