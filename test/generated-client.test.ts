import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createClient } from '@hey-api/openapi-ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { runCommand, STANDALONE_COMPILER_OPTIONS } from './helpers/standalone-project.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

/**
 * A client generated from openapi/openapi.json by @hey-api/openapi-ts (what a team on another
 * stack would do) type-checks, runs on Node 24 as generated (type stripping, `.ts` imports), and
 * drives a task through create → get ?wait → get against a live server.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
const BIN = path.join(ROOT, 'node_modules/.bin');

const SCRIPT = `import { client } from './generated/client.gen.ts';
import { tasksCreate, tasksGet, tasksList } from './generated/index.ts';
import type { TasksGetResponse } from './generated/types.gen.ts';

declare const process: { argv: string[]; stdout: { write(s: string): void } };
const [baseUrl, apiKey, targetUrl] = process.argv.slice(2) as [string, string, string];

// No key yet: the typed error body of the OpenAPI document.
client.setConfig({ baseUrl });
const anonymous = await tasksList();
const unauthorized = { status: anonymous.response?.status, code: anonymous.error?.code };

client.setConfig({ baseUrl, auth: (scheme) => (scheme.scheme === 'bearer' ? apiKey : undefined) });
const created = await tasksCreate({
  body: { targetUrl, body: '{"prompt":"a cat"}', maxRetries: 1 },
  headers: { 'Idempotency-Key': 'generated-client-1' },
});
if (!created.data) throw new Error('create failed: ' + JSON.stringify(created.error));
const id = created.data.task.id;

const statuses: string[] = [];
let waited: TasksGetResponse | undefined;
for (let i = 0; i < 10; i += 1) {
  const res = await tasksGet({ path: { id }, query: { wait: 25 }, throwOnError: true });
  waited = res.data;
  statuses.push(waited.task.status);
  if (['completed', 'failed', 'timeout', 'cancelled'].includes(waited.task.status)) break;
}
const final = await tasksGet({ path: { id }, throwOnError: true });
const replay = await tasksCreate({
  body: { targetUrl, body: '{"prompt":"a cat"}', maxRetries: 1 },
  headers: { 'Idempotency-Key': 'generated-client-1' },
});
process.stdout.write(
  JSON.stringify({
    unauthorized,
    createStatus: created.response?.status,
    createdStatus: created.data.task.status,
    statuses,
    finalStatus: final.data.task.status,
    finalResult: final.data.task.result,
    attempts: final.data.task.attempts.length,
    replay: {
      status: replay.response?.status,
      header: replay.response?.headers.get('idempotent-replayed'),
      id: replay.data?.task.id,
    },
    id,
  }) + '\\n',
);
`;

const TSCONFIG = {
  compilerOptions: {
    ...STANDALONE_COMPILER_OPTIONS,
    // As generated: `.ts` imports, run by Node's type stripping.
    allowImportingTsExtensions: true,
    erasableSyntaxOnly: true,
    verbatimModuleSyntax: true,
  },
  include: ['run.ts', 'generated'],
};

let work: string;
let t: TestApp;
let provider: FakeProvider;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'aq-generated-client-'));
  [t, provider] = await Promise.all([startTestApp(), startFakeProvider()]);
});
afterAll(async () => {
  await provider?.stop();
  await t?.stop();
  await rm(work, { recursive: true, force: true });
});

describe('client generated from openapi/openapi.json (@hey-api/openapi-ts)', () => {
  it('generates, type-checks, and runs create → get ?wait → get against a live server', async () => {
    await createClient({
      input: path.join(ROOT, 'openapi/openapi.json'),
      output: { path: path.join(work, 'generated'), module: { extension: '.ts' } },
      plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
      logs: { level: 'silent' },
    });
    const sdk = await readFile(path.join(work, 'generated/sdk.gen.ts'), 'utf8');
    for (const op of ['tasksCreate', 'tasksGet', 'tasksList', 'tasksCancel', 'signalsSend', 'providersList']) {
      expect(sdk).toContain(`export const ${op} =`);
    }

    await writeFile(path.join(work, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    await writeFile(path.join(work, 'run.ts'), SCRIPT);
    await writeFile(path.join(work, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    const tsc = await runCommand(path.join(BIN, 'tsc'), ['-p', 'tsconfig.json'], { cwd: work });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);

    const team = await t.newTeam();
    const node = await runCommand(process.execPath, ['run.ts', t.url, team.apiKey, provider.url('/ok')], { cwd: work });
    expect(node.code, node.stderr).toBe(0);
    const out = JSON.parse(node.stdout);
    expect(out.unauthorized).toEqual({ status: 401, code: 'unauthorized' });
    expect(out.createStatus).toBe(201);
    expect(['pending', 'processing', 'completed']).toContain(out.createdStatus);
    expect(out.statuses.at(-1)).toBe('completed');
    expect(out.finalStatus).toBe('completed');
    expect(out.finalResult).toMatchObject({ statusCode: 200, bodyTruncated: false });
    expect(JSON.parse(out.finalResult.body)).toEqual({ ok: true, id: 'gen_1' });
    expect(out.attempts).toBe(1);
    expect(out.replay).toEqual({ status: 200, header: 'true', id: out.id });
    expect(provider.requestsTo('/ok').filter((r) => r.headers['x-asyncqueue-task-id'] === out.id)).toHaveLength(1);
  }, 120_000);
});
