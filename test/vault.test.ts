import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FakeAiProviders,
  type FakeJob,
  type JobControl,
  jobControl,
  startFakeAiProviders,
} from './helpers/fake-ai-providers.ts';
import { type ApiResponse, api } from './helpers/http.ts';
import { startRecordingServer } from './helpers/recording-server.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { ISO_MS } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

let t: TestApp;
let teamA: TestTeam;
let teamB: TestTeam;
let fake: FakeAiProviders;
let jobs: JobControl;

/** Every secret stored during the file: none may show up in a response, a row or a log line. */
const secrets: string[] = [];
/** Every API response body seen during the file. */
const responses: string[] = [];
const TOKEN_ID = /^tok_[0-9A-Za-z]{24}$/;

beforeAll(async () => {
  fake = await startFakeAiProviders();
  t = await startTestApp({
    ASYNCQUEUE_PROVIDER_BASE_URLS: fake.baseUrlsEnv,
    ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
  });
  teamA = await t.newTeam();
  teamB = await t.newTeam();
  jobs = jobControl(t.app.orm);
});
afterAll(async () => {
  await t?.stop();
  await fake?.stop();
});

async function call(method: string, p: string, key: string, body?: unknown): Promise<ApiResponse> {
  const res = await api(t.url, method, p, { key, ...(body === undefined ? {} : { body }) });
  responses.push(res.text);
  return res;
}

const newSecret = (label: string) => {
  const value = `Bearer sk-VAULT-${label}-${randomBytes(12).toString('hex')}`;
  secrets.push(value, value.slice(7));
  return value;
};

async function createToken(key: string, name: string, value: string) {
  const res = await call('POST', '/v1/tokens', key, { name, value });
  expect(res.status, res.text).toBe(201);
  return res.body.token as { id: string; name: string; createdAt: string };
}

/** A fresh secret (see newSecret), stored as team A's token `name`. */
async function storeSecret(label: string, name: string) {
  const value = newSecret(label);
  return { value, token: await createToken(teamA.apiKey, name, value) };
}

/** POST /v1/tasks as team A; asserts the 201. */
async function createTask(body: Record<string, unknown>) {
  const created = await call('POST', '/v1/tasks', teamA.apiKey, body);
  expect(created.status, created.text).toBe(201);
  return { created, id: created.body.task.id as string };
}

/** A preset task as team A, once its dispatch has made it `polling`, and the fake's job for it. */
async function startPolling(body: Record<string, unknown>) {
  const { id } = await createTask(body);
  await jobs.untilStatus(id, 'polling');
  return { id, job: fake.jobForTask(id) as FakeJob };
}

const taskRowText = async (id: string) =>
  (await jobs.sql<{ row: string }>('select t::text as row from tasks t where id = ?', [id]))[0]?.row ?? '';

function expectNoSecret(text: string, secret: string) {
  expect(text).not.toContain(secret);
  expect(text).not.toContain(secret.slice(7));
}

describe('token vault', () => {
  let token: { id: string; name: string; createdAt: string };
  let secret: string;

  it('POST /v1/tokens → 201 {token: {id, name, createdAt}}, never the value', async () => {
    secret = newSecret('main');
    const res = await call('POST', '/v1/tokens', teamA.apiKey, { name: 'openai-prod', value: secret });
    expect(res.status, res.text).toBe(201);
    expect(Object.keys(res.body)).toEqual(['token']);
    expect(Object.keys(res.body.token).sort()).toEqual(['createdAt', 'id', 'name']);
    expect(res.body.token.id).toMatch(TOKEN_ID);
    expect(res.body.token.name).toBe('openai-prod');
    expect(res.body.token.createdAt).toMatch(ISO_MS);
    expectNoSecret(res.text, secret);
    token = res.body.token;
  });

  it('GET /v1/tokens lists it without the value', async () => {
    const res = await call('GET', '/v1/tokens', teamA.apiKey);
    expect(res.status).toBe(200);
    expect(res.body.tokens).toContainEqual(token);
    for (const listed of res.body.tokens) expect(Object.keys(listed).sort()).toEqual(['createdAt', 'id', 'name']);
    expectNoSecret(res.text, secret);
  });

  it('stores the value encrypted: value_enc is not the value and does not contain it', async () => {
    const [row] = await jobs.sql<{ value_enc: string; row: string }>(
      'select value_enc, v::text as row from vault_tokens v where id = ?',
      [token.id],
    );
    expect(row).toBeDefined();
    expect(row?.value_enc).not.toBe(secret);
    expectNoSecret(row?.row ?? '', secret);
    expect(row?.row).not.toContain(Buffer.from(secret).toString('base64'));
    expect(row?.row).not.toContain(Buffer.from(secret).toString('hex'));
  });

  it('a header value tok_… reaches the provider as the real secret, and is stored nowhere', async () => {
    const { created, id } = await createTask({
      targetUrl: fake.url('/plain/vault-main'),
      headers: { Authorization: token.id, 'X-Trace': 'vault' },
      body: '{"prompt":"a cat"}',
    });
    const done = await waitForStatus(t.url, teamA.apiKey, id, 'completed');
    const seen = fake.requests.filter((r) => r.path === '/plain/vault-main');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers.authorization).toBe(secret);
    expect(seen[0]?.headers['x-trace']).toBe('vault');
    // The task keeps the reference (masked on read), never the value.
    expect(done.headers.Authorization).toBe('tok_****');
    const row = await taskRowText(id);
    expect(row).toContain(token.id);
    expectNoSecret(row, secret);
    responses.push(JSON.stringify(done));
    const got = await call('GET', `/v1/tasks/${id}`, teamA.apiKey);
    const list = await call('GET', '/v1/tasks?limit=100', teamA.apiKey);
    const tokens = await call('GET', '/v1/tokens', teamA.apiKey);
    for (const res of [created, got, list, tokens]) expectNoSecret(res.text, secret);
    expectNoSecret(t.logs.text(), secret);
  });

  it('DELETE /v1/tokens/:id → 200; then a task referencing it → 400 naming headers.Authorization', async () => {
    const { value, token: doomed } = await storeSecret('deleted', 'to-delete');
    const del = await call('DELETE', `/v1/tokens/${doomed.id}`, teamA.apiKey);
    expect(del.status, del.text).toBe(200);
    expect(del.body.token).toEqual(doomed);
    expectNoSecret(del.text, value);
    const list = await call('GET', '/v1/tokens', teamA.apiKey);
    expect(list.body.tokens.map((x: { id: string }) => x.id)).not.toContain(doomed.id);
    const again = await call('DELETE', `/v1/tokens/${doomed.id}`, teamA.apiKey);
    expect(again.status).toBe(404);

    const res = await call('POST', '/v1/tasks', teamA.apiKey, {
      targetUrl: fake.url('/plain/never'),
      headers: { Authorization: doomed.id },
    });
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe('validation_failed');
    expect(res.body.details.map((d: { path: string }) => d.path)).toEqual(['headers.Authorization']);
    expect(res.body.details[0].message).toContain(doomed.id);
    expect(fake.requests.filter((r) => r.path === '/plain/never')).toHaveLength(0);
  });

  it('a task created before the delete but dispatched after it fails, naming the token, without retries', async () => {
    const { token: late } = await storeSecret('late', 'late');
    const { created, id } = await createTask({
      targetUrl: fake.url('/plain/vault-late'),
      headers: { 'X-Api-Key': late.id },
      delayUntil: new Date(Date.now() + 1_500).toISOString(),
      maxRetries: 3,
    });
    expect(created.body.task.status).toBe('delayed');
    expect((await call('DELETE', `/v1/tokens/${late.id}`, teamA.apiKey)).status).toBe(200);
    const done = await waitForStatus(t.url, teamA.apiKey, id, 'failed', 15_000);
    expect(done.error).toContain(late.id);
    expect(done.retryCount).toBe(0);
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ number: 1, statusCode: null, willRetry: false });
    expect(done.attempts[0].error).toContain(late.id);
    expect(await jobs.count('dispatch', id)).toBe(1);
    expect(fake.requests.filter((r) => r.path === '/plain/vault-late')).toHaveLength(0);
  });

  it('tokens are team-scoped', async () => {
    const { token: mine } = await storeSecret('scoped', 'team-a-only');
    const use = await call('POST', '/v1/tasks', teamB.apiKey, {
      targetUrl: fake.url('/plain/other-team'),
      headers: { Authorization: mine.id },
    });
    expect(use.status, use.text).toBe(400);
    expect(use.body.details.map((d: { path: string }) => d.path)).toEqual(['headers.Authorization']);
    const list = await call('GET', '/v1/tokens', teamB.apiKey);
    expect(list.status).toBe(200);
    expect(list.body.tokens).toEqual([]);
    const get = await call('GET', `/v1/tokens/${mine.id}`, teamB.apiKey);
    expect(get.status).toBe(404);
    const del = await call('DELETE', `/v1/tokens/${mine.id}`, teamB.apiKey);
    expect(del.status, del.text).toBe(404);
    // Still there for its own team.
    const own = await call('GET', '/v1/tokens', teamA.apiKey);
    expect(own.body.tokens).toContainEqual(mine);
    expect(fake.requests.filter((r) => r.path === '/plain/other-team')).toHaveLength(0);
  });

  it("a ciphertext copied onto another team's token row fails to decrypt: the task fails naming the token", async () => {
    const { value: valueA, token: tokenA } = await storeSecret('bound-a', 'bound-a');
    const valueB = newSecret('bound-b');
    const tokenB = await createToken(teamB.apiKey, 'bound-b', valueB);
    // Someone with write access to the table moves team A's ciphertext onto team B's token.
    await jobs.sql(
      'update vault_tokens set value_enc = (select value_enc from vault_tokens where id = ?) where id = ?',
      [tokenA.id, tokenB.id],
    );
    const stolen = await call('POST', '/v1/tasks', teamB.apiKey, {
      targetUrl: fake.url('/plain/bound-b'),
      headers: { Authorization: tokenB.id },
      maxRetries: 2,
    });
    expect(stolen.status, stolen.text).toBe(201);
    const failed = await waitForStatus(t.url, teamB.apiKey, stolen.body.task.id, 'failed', 15_000);
    expect(failed.error).toContain(tokenB.id);
    expect(failed.error).toContain('cannot be decrypted');
    expect(failed.attempts).toHaveLength(1);
    expect(fake.requests.filter((r) => r.path === '/plain/bound-b')).toHaveLength(0);
    // The original still works for its own team.
    const { id } = await createTask({ targetUrl: fake.url('/plain/bound-a'), headers: { Authorization: tokenA.id } });
    await waitForStatus(t.url, teamA.apiKey, id, 'completed');
    expect(fake.requests.find((r) => r.path === '/plain/bound-a')?.headers.authorization).toBe(valueA);
  });

  it('a vault value in any header (X-Custom: tok_…) is dropped on a cross-origin redirect', async () => {
    const { value, token: custom } = await storeSecret('redirected', 'custom-header');
    const other = await startRecordingServer();
    const first = await startRecordingServer({
      answer: () => ({ status: 307, headers: { location: other.url('/landed') } }),
    });
    try {
      const { id } = await createTask({
        targetUrl: first.url('/start'),
        headers: { 'X-Custom': custom.id, 'X-Plain': 'kept' },
        body: '{}',
      });
      await waitForStatus(t.url, teamA.apiKey, id, 'completed');
      expect(first.received[0]?.headers['x-custom']).toBe(value);
      expect(other.received).toHaveLength(1);
      expect(other.received[0]?.headers['x-custom']).toBeUndefined();
      expect(other.received[0]?.headers['x-plain']).toBe('kept');
      expectNoSecret(JSON.stringify(other.received[0]?.headers), value);
    } finally {
      await first.stop();
      await other.stop();
    }
  });

  it('validates name and value', async () => {
    const cases: [body: unknown, path: string][] = [
      [{ value: 'x' }, 'name'],
      [{ name: '', value: 'x' }, 'name'],
      [{ name: 'n' }, 'value'],
      [{ name: 'n', value: '' }, 'value'],
      [{ name: 'n', value: 'v'.repeat(8193) }, 'value'],
      [{ name: 'n', value: 42 }, 'value'],
    ];
    for (const [body, p] of cases) {
      const res = await call('POST', '/v1/tokens', teamA.apiKey, body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.body.code).toBe('validation_failed');
      expect(res.body.details.map((d: { path: string }) => d.path)).toContain(p);
    }
    const max = await call('POST', '/v1/tokens', teamA.apiKey, { name: 'max', value: 'v'.repeat(8192) });
    expect(max.status, max.text).toBe(201);
    const unauthenticated = await api(t.url, 'POST', '/v1/tokens', { body: { name: 'n', value: 'v' } });
    expect(unauthenticated.status).toBe(401);
  });

  it('tok_ references in forwarded poll headers are resolved (runwayml)', async () => {
    const { value, token: runwayToken } = await storeSecret('runway', 'runway');
    const { id, job } = await startPolling({
      targetUrl: fake.url('/v1/image_to_video'),
      headers: { Authorization: runwayToken.id, 'X-Runway-Version': '2024-11-06' },
      body: JSON.stringify({ model: 'gen4_turbo', promptImage: 'https://example.com/cat.png' }),
      provider: 'runwayml',
    });
    expect(job).toBeDefined();
    for (let n = 0; n < 4; n += 1) await jobs.pollNow(id);
    const done = await waitForStatus(t.url, teamA.apiKey, id, 'completed', 10_000);
    const seen = fake.requestsFor(job.id);
    expect(seen.map((r) => r.kind)).toEqual(['create', 'status', 'status', 'status', 'status']);
    for (const req of seen) expect(req.headers.authorization).toBe(value);
    expectNoSecret(await taskRowText(id), value);
    expectNoSecret(JSON.stringify(done), value);
  });

  it('a token deleted while its task is polling fails the task at the next poll, naming the token', async () => {
    const { token: pollToken } = await storeSecret('poll-deleted', 'poll-deleted');
    const { id, job } = await startPolling({
      targetUrl: fake.url('/v1/predictions'),
      headers: { Authorization: pollToken.id, 'X-Fake-Scenario': 'never' },
      body: JSON.stringify({ version: 'v1', input: { prompt: 'a cat' } }),
      provider: 'replicate',
    });
    await jobs.pollNow(id);
    expect(job.polls).toBe(1);
    expect((await call('DELETE', `/v1/tokens/${pollToken.id}`, teamA.apiKey)).status).toBe(200);
    await jobs.pollNow(id);
    const done = await waitForStatus(t.url, teamA.apiKey, id, 'failed', 10_000);
    expect(done.error).toContain(pollToken.id);
    // Nothing was sent without the credential, and polling stopped.
    expect(job.polls).toBe(1);
    expect(await jobs.queued('poll', id)).toEqual([]);
  });

  it('no secret ever appeared in an API response, a task row or a log line', async () => {
    const rows = await jobs.sql<{ row: string }>('select t::text as row from tasks t');
    const tokenRows = await jobs.sql<{ row: string }>('select v::text as row from vault_tokens v');
    const everything = [...responses, ...rows.map((r) => r.row), ...tokenRows.map((r) => r.row), t.logs.text()];
    expect(secrets.length).toBeGreaterThan(8);
    for (const s of secrets) for (const text of everything) expect(text).not.toContain(s);
  });
});

describe('ASYNCQUEUE_ENCRYPTION_KEY unset', () => {
  let dataDir: string;
  let keyless: TestApp | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'aq-vault-key-'));
  });
  afterAll(async () => {
    await keyless?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates <dataDir>/encryption.key (0600), warns about multi-instance deployments, and reuses it', async () => {
    // '' counts as unset for loadConfig, overriding the harness's generated key.
    const env = { ASYNCQUEUE_ENCRYPTION_KEY: '', ASYNCQUEUE_DATA_DIR: dataDir, ASYNCQUEUE_PROVIDER_BASE_URLS: '' };
    keyless = await startTestApp(env);
    const keyFile = path.join(dataDir, 'encryption.key');
    const info = await stat(keyFile);
    expect(info.isFile()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
    const keyText = (await readFile(keyFile, 'utf8')).trim();
    expect(Buffer.from(keyText, 'base64')).toHaveLength(32);
    const warnings = keyless.logs.lines
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((l) => l.level === 40 && /multi-instance/i.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('ASYNCQUEUE_ENCRYPTION_KEY');
    expect(warnings[0]?.msg).toContain(keyFile);

    // The vault works with the file key, and after a restart on the same data dir it still does.
    const team = await keyless.newTeam();
    const value = newSecret('keyfile');
    const tokenRes = await api(keyless.url, 'POST', '/v1/tokens', {
      key: team.apiKey,
      body: { name: 'file-key', value },
    });
    expect(tokenRes.status, tokenRes.text).toBe(201);
    const databaseUrl = keyless.databaseUrl;
    await keyless.stop();
    keyless = await startTestApp(env, databaseUrl);
    expect((await readFile(keyFile, 'utf8')).trim()).toBe(keyText);
    expect(keyless.logs.lines.filter((l) => /multi-instance/i.test(l))).toHaveLength(0);
    const task = await api(keyless.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: fake.url('/plain/keyfile'), headers: { Authorization: tokenRes.body.token.id } },
    });
    expect(task.status, task.text).toBe(201);
    await waitForStatus(keyless.url, team.apiKey, task.body.task.id, 'completed');
    const seen = await waitFor('the keyfile request', () => fake.requests.find((r) => r.path === '/plain/keyfile'));
    expect(seen.headers.authorization).toBe(value);
  });
});
