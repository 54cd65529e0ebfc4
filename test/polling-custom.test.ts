import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JobControl, jobControl } from './helpers/fake-ai-providers.ts';
import { api } from './helpers/http.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

/** One scripted answer: status, JSON body, headers; `delayMs` holds the answer back (a hang). */
type Step = { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number };
type Seen = { method: string; path: string; search: string; headers: http.IncomingHttpHeaders };

/**
 * A loopback provider whose answers are scripted per path (raw, still percent-encoded): each
 * request takes the next step, the last step repeats. Unknown paths answer 404.
 */
async function startScriptedServer(host = '127.0.0.1') {
  const scripts = new Map<string, Step[]>();
  const hits = new Map<string, number>();
  const seen: Seen[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer(async (req, res) => {
    for await (const _ of req) {
      // drain the body
    }
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ method: req.method ?? '', path: url.pathname, search: url.search, headers: req.headers });
    const script = scripts.get(url.pathname);
    if (!script) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"no script"}');
      return;
    }
    const n = hits.get(url.pathname) ?? 0;
    hits.set(url.pathname, n + 1);
    const step = script[Math.min(n, script.length - 1)] as Step;
    const answer = () => {
      if (res.destroyed) return;
      res.writeHead(step.status, { 'content-type': 'application/json', ...(step.headers ?? {}) });
      res.end(step.body === undefined ? '' : JSON.stringify(step.body));
    };
    if (step.delayMs) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, step.delayMs);
      timers.add(timer);
    } else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const origin = `http://${host}:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    script: (path: string, steps: Step[]) => scripts.set(path, steps),
    hits: (path: string) => hits.get(path) ?? 0,
    requests: (path: string) => seen.filter((s) => s.path === path),
    seen,
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Scripted = Awaited<ReturnType<typeof startScriptedServer>>;

let t: TestApp;
let team: TestTeam;
let srv: Scripted;
let jobs: JobControl;

beforeAll(async () => {
  srv = await startScriptedServer();
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' });
  team = await t.newTeam();
  jobs = jobControl(t.app.orm);
});
afterAll(async () => {
  await t?.stop();
  await srv?.stop();
});

const POLL = { statusPath: 'state', doneValues: ['done'], failValues: ['error'], interval: 1 };

async function createPolled(
  app: TestApp,
  key: string,
  startPath: string,
  pollConfig: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  const res = await api(app.url, 'POST', '/v1/tasks', {
    key,
    body: { targetUrl: `${srv.origin}${startPath}`, body: '{"prompt":"x"}', pollConfig, ...extra },
  });
  expect(res.status, res.text).toBe(201);
  return res.body.task.id as string;
}

describe('custom pollConfig', () => {
  it('fills {startResult.body.<path>} and {startResult.headers.<name>} (any case) and reads resultPath', async () => {
    srv.script('/t1/start', [{ status: 200, body: { job: { id: 'abc 1/2' } }, headers: { 'X-Job-Token': 'T0k3n&x' } }]);
    const statusPath = '/t1/status/abc%201%2F2';
    srv.script(statusPath, [
      { status: 200, body: { state: 'running', pct: 10 } },
      { status: 200, body: { state: 'done', data: { value: { url: 'https://cdn.example.com/out.png' } } } },
    ]);
    const id = await createPolled(t, team.apiKey, '/t1/start', {
      ...POLL,
      urlTemplate: `${srv.origin}/t1/status/{startResult.body.job.id}?token={startResult.headers.X-JOB-TOKEN}`,
      resultPath: 'data.value',
    });
    const done = await waitForStatus(t.url, team.apiKey, id, 'completed', 20_000);
    expect(done.result).toMatchObject({
      statusCode: 200,
      body: JSON.stringify({ url: 'https://cdn.example.com/out.png' }),
      bodyTruncated: false,
    });
    // Inside a larger template, values are percent-encoded as path/query components.
    const polls = srv.requests(statusPath);
    expect(polls).toHaveLength(2);
    for (const p of polls) {
      expect(p.method).toBe('GET');
      expect(p.search).toBe('?token=T0k3n%26x');
    }
    expect(done.pollConfig).toMatchObject({ interval: 1, maxDuration: 600, forwardAuth: false });
  });

  it('fetches the result from resultUrlTemplate and applies resultPath to that response', async () => {
    srv.script('/t2/start', [{ status: 200, body: { id: 'r2' } }]);
    srv.script('/t2/status/r2', [{ status: 200, body: { state: 'done', output: 'not-this-one' } }]);
    srv.script('/t2/result/r2', [{ status: 203, body: { output: { text: 'hello' }, meta: { ms: 5 } } }]);
    const id = await createPolled(t, team.apiKey, '/t2/start', {
      ...POLL,
      urlTemplate: `${srv.origin}/t2/status/{startResult.body.id}`,
      resultUrlTemplate: `${srv.origin}/t2/result/{startResult.body.id}`,
      resultPath: 'output',
    });
    const done = await waitForStatus(t.url, team.apiKey, id, 'completed', 20_000);
    // statusCode of the response that carried the result: the result fetch's 203.
    expect(done.result.statusCode).toBe(203);
    expect(done.result.body).toBe('{"text":"hello"}');
    expect(srv.hits('/t2/status/r2')).toBe(1);
    expect(srv.hits('/t2/result/r2')).toBe(1);
  });

  it('statusPath "$httpStatus" reads the HTTP status code: 202 → keep polling, 200 → done, 410 → failed', async () => {
    srv.script('/t3/start', [{ status: 200, body: { id: 'ok' } }]);
    srv.script('/t3/status/ok', [
      { status: 202, body: { progress: 0.5 } },
      { status: 200, body: { url: 'https://cdn.example.com/v.mp4' } },
    ]);
    srv.script('/t3b/start', [{ status: 200, body: { id: 'gone' } }]);
    srv.script('/t3b/status/gone', [
      { status: 202, body: { progress: 0.1 } },
      { status: 410, body: { error: 'expired' } },
    ]);
    const http = { statusPath: '$httpStatus', doneValues: ['200'], failValues: ['410'], interval: 1 };
    const okId = await createPolled(t, team.apiKey, '/t3/start', {
      ...http,
      urlTemplate: `${srv.origin}/t3/status/{startResult.body.id}`,
    });
    const goneId = await createPolled(t, team.apiKey, '/t3b/start', {
      ...http,
      urlTemplate: `${srv.origin}/t3b/status/{startResult.body.id}`,
    });
    const ok = await waitForStatus(t.url, team.apiKey, okId, 'completed', 20_000);
    expect(ok.result.statusCode).toBe(200);
    expect(ok.result.body).toBe('{"url":"https://cdn.example.com/v.mp4"}');
    expect(srv.hits('/t3/status/ok')).toBe(2);
    const gone = await waitForStatus(t.url, team.apiKey, goneId, 'failed', 20_000);
    expect(gone.error).toContain('410');
    expect(gone.error).toContain('{"error":"expired"}');
    expect(srv.hits('/t3b/status/gone')).toBe(2);
  });

  it('a template that resolves to nothing fails the task with an error naming the template', async () => {
    srv.script('/t4/start', [{ status: 200, body: { data: { id: 'x' } } }]);
    srv.script('/t4/status/x', [{ status: 200, body: { state: 'done' } }]);
    const bodyId = await createPolled(t, team.apiKey, '/t4/start', {
      ...POLL,
      urlTemplate: `${srv.origin}/t4/status/{startResult.body.data.missing}`,
    });
    const headerId = await createPolled(t, team.apiKey, '/t4/start', {
      ...POLL,
      urlTemplate: `${srv.origin}/t4/status/{startResult.headers.x-not-sent}`,
    });
    const resultId = await createPolled(t, team.apiKey, '/t4/start', {
      ...POLL,
      urlTemplate: `${srv.origin}/t4/status/{startResult.body.data.id}`,
      resultUrlTemplate: `${srv.origin}/t4/result/{startResult.body.nope}`,
    });
    const byBody = await waitForStatus(t.url, team.apiKey, bodyId, 'failed', 20_000);
    expect(byBody.error).toContain('pollConfig.urlTemplate');
    expect(byBody.error).toContain('{startResult.body.data.missing}');
    const byHeader = await waitForStatus(t.url, team.apiKey, headerId, 'failed', 20_000);
    expect(byHeader.error).toContain('pollConfig.urlTemplate');
    expect(byHeader.error).toContain('{startResult.headers.x-not-sent}');
    const byResult = await waitForStatus(t.url, team.apiKey, resultId, 'failed', 20_000);
    expect(byResult.error).toContain('pollConfig.resultUrlTemplate');
    expect(byResult.error).toContain('{startResult.body.nope}');
    // Not retried: one poll each, no poll left queued.
    expect(await jobs.count('poll', bodyId)).toBe(1);
    expect(await jobs.queued('poll', headerId)).toEqual([]);
    // Only the result task reached the status URL (the others never had a URL to call).
    expect(srv.hits('/t4/status/x')).toBe(1);
  });

  it('a 5xx or a timed-out status response keeps polling, then succeeds', async () => {
    srv.script('/t5/start', [{ status: 200, body: { id: 'slow' } }]);
    srv.script('/t5/status/slow', [
      { status: 503, body: { error: 'overloaded' } },
      // Why 3 s: longer than the task's 1 s per-request timeout, so this poll times out.
      { status: 200, body: { state: 'running' }, delayMs: 3_000 },
      { status: 500, body: { error: 'oops' } },
      { status: 200, body: { state: 'done', answer: 42 } },
    ]);
    const id = await createPolled(
      t,
      team.apiKey,
      '/t5/start',
      { ...POLL, urlTemplate: `${srv.origin}/t5/status/{startResult.body.id}`, resultPath: 'answer' },
      { timeout: 1 },
    );
    const done = await waitForStatus(t.url, team.apiKey, id, 'completed', 30_000);
    expect(done.result).toMatchObject({ statusCode: 200, body: '42' });
    expect(srv.hits('/t5/status/slow')).toBe(4);
    expect(done.error).toBeNull();
  });

  it('forwardAuth false (the default) sends no credentials to the poll and result URLs; true sends them', async () => {
    const secrets = { Authorization: 'Bearer sk-custom-1', 'X-API-Key': 'xk-2', 'xi-api-key': 'xi-3', 'X-Other': 'o' };
    for (const mode of ['off', 'on'] as const) {
      srv.script(`/t6${mode}/start`, [{ status: 200, body: { id: 'a' } }]);
      srv.script(`/t6${mode}/status/a`, [{ status: 200, body: { state: 'done' } }]);
      srv.script(`/t6${mode}/result/a`, [{ status: 200, body: { ok: true } }]);
    }
    const config = (mode: string) => ({
      ...POLL,
      urlTemplate: `${srv.origin}/t6${mode}/status/{startResult.body.id}`,
      resultUrlTemplate: `${srv.origin}/t6${mode}/result/{startResult.body.id}`,
    });
    const offId = await createPolled(t, team.apiKey, '/t6off/start', config('off'), { headers: secrets });
    const onId = await createPolled(
      t,
      team.apiKey,
      '/t6on/start',
      { ...config('on'), forwardAuth: true },
      {
        headers: secrets,
      },
    );
    const off = await waitForStatus(t.url, team.apiKey, offId, 'completed', 20_000);
    expect(off.pollConfig.forwardAuth).toBe(false);
    await waitForStatus(t.url, team.apiKey, onId, 'completed', 20_000);
    // The start call itself carries every header in both cases.
    expect(srv.requests('/t6off/start')[0]?.headers.authorization).toBe('Bearer sk-custom-1');
    for (const path of ['/t6off/status/a', '/t6off/result/a']) {
      const [req] = srv.requests(path);
      expect(req, path).toBeDefined();
      expect(req?.headers.authorization).toBeUndefined();
      expect(req?.headers['x-api-key']).toBeUndefined();
      expect(req?.headers['xi-api-key']).toBeUndefined();
      expect(req?.headers['x-other']).toBeUndefined();
    }
    for (const path of ['/t6on/status/a', '/t6on/result/a']) {
      const [req] = srv.requests(path);
      expect(req, path).toBeDefined();
      expect(req?.headers.authorization).toBe('Bearer sk-custom-1');
      expect(req?.headers['x-api-key']).toBe('xk-2');
      expect(req?.headers['xi-api-key']).toBe('xi-3');
      // Only the auth headers are forwarded.
      expect(req?.headers['x-other']).toBeUndefined();
    }
  });

  /** A polling task whose provider never finishes; cancelled by the caller. */
  async function endlessPolling(name: string) {
    srv.script(`/${name}/start`, [{ status: 200, body: { job: name } }]);
    srv.script(`/${name}/status`, [{ status: 200, body: { state: 'running' } }]);
    const id = await createPolled(t, team.apiKey, `/${name}/start`, {
      ...POLL,
      urlTemplate: `${srv.origin}/${name}/status`,
    });
    return {
      id,
      polls: () => srv.hits(`/${name}/status`),
      pollJobId: async () =>
        (await sql<{ p: string | null }>('select poll_job_id as p from tasks where id = ?', [id]))[0]?.p ?? null,
      async cancel() {
        const cancelled = await api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: team.apiKey });
        expect(cancelled.status, cancelled.text).toBe(200);
      },
    };
  }
  const sql = <R>(text: string, params: unknown[] = []) => t.app.orm.em.fork().execute<R[]>(text, params);

  it('one poll chain per task: a duplicate poll job or a redelivered finished one polls nothing', async () => {
    const task = await endlessPolling('chain');
    const pollJobs = (states: string) =>
      sql<{ id: string }>(
        `select id from pgboss.job where name = 'poll' and data->>'taskId' = ? and state::text in (${states}) order by created_on`,
        [task.id],
      );
    // After two polls, the first poll job is finished.
    await waitFor('two polls', () => task.polls() >= 2);
    const [finished] = await pollJobs(`'completed'`);
    expect(finished).toBeDefined();
    // A foreign duplicate job, and the finished one delivered again (what pg-boss does after a crash
    // between enqueuing the next poll and completing the current job).
    await t.app.boss.send('poll', { taskId: task.id });
    await sql(`update pgboss.job set state = 'retry', start_after = now() where id = ?`, [finished!.id]);
    const before = task.polls();
    await new Promise((r) => setTimeout(r, 3_500));
    // Exactly one poll job is left to run: the chain's next (other chains would keep their own).
    const pending = async () => {
      const named = await task.pollJobId();
      const jobs = (await pollJobs(`'created', 'retry', 'active'`)).map((j) => j.id);
      return jobs.length === 1 && jobs[0] === named;
    };
    await waitFor('one pending poll job, the one the task names', pending, 3_000);
    // And one chain polls at most 4 times in 3.5 s at a 1 s interval; each extra chain adds as many.
    expect(task.polls() - before).toBeLessThanOrEqual(4);
    await task.cancel();
  });

  it('a task polling since before the chain fence (no poll job named) keeps polling and gets one', async () => {
    const task = await endlessPolling('legacy');
    await waitFor('the first poll', () => task.polls() >= 1);
    await sql('update tasks set poll_job_id = null where id = ?', [task.id]);
    const polls = task.polls();
    await waitFor('a poll job named again', async () => (await task.pollJobId()) != null && task.polls() > polls);
    await waitFor('the chain goes on', () => task.polls() > polls + 1, 5_000);
    await task.cancel();
  });
});

describe('network guard on poll and result URLs', () => {
  let guarded: TestApp;
  let guardedTeam: TestTeam;
  let guardedJobs: JobControl;
  let canary: Scripted;

  beforeAll(async () => {
    // Only 127.0.0.1 is allowed: the scripted provider is reachable, 127.0.0.2 is not.
    guarded = await startTestApp({
      ASYNCQUEUE_ALLOWED_CIDRS: '127.0.0.1/32',
      ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
    });
    guardedTeam = await guarded.newTeam();
    guardedJobs = jobControl(guarded.app.orm);
    canary = await startScriptedServer('127.0.0.2');
    canary.script('/canary', [{ status: 200, body: { state: 'done' } }]);
  });
  afterAll(async () => {
    await guarded?.stop();
    await canary?.stop();
  });

  it('a status_url at a private, metadata or disallowed loopback address fails the task at once', async () => {
    const targets = {
      private: 'http://10.0.0.1/status',
      metadata: 'http://169.254.169.254/latest/meta-data/',
      loopback: `${canary.origin}/canary`,
    };
    const ids: Record<string, string> = {};
    for (const [name, statusUrl] of Object.entries(targets)) {
      srv.script(`/g-${name}/start`, [{ status: 200, body: { request_id: name, status_url: statusUrl } }]);
      ids[name] = await createPolled(guarded, guardedTeam.apiKey, `/g-${name}/start`, {
        ...POLL,
        urlTemplate: '{startResult.body.status_url}',
      });
    }
    for (const [name, id] of Object.entries(ids)) {
      const done = await waitForStatus(guarded.url, guardedTeam.apiKey, id, 'failed', 20_000);
      expect(done.error, name).toContain('network guard');
      expect(done.attempts, name).toHaveLength(1);
      // At once: the first poll failed it, no second poll was scheduled.
      expect(await guardedJobs.count('poll', id), name).toBe(1);
    }
    expect(canary.seen).toHaveLength(0);
  });

  it('a result URL at a disallowed address fails the task with the network guard error', async () => {
    srv.script('/g-result/start', [
      { status: 200, body: { status_url: `${srv.origin}/g-result/status`, response_url: `${canary.origin}/canary` } },
    ]);
    srv.script('/g-result/status', [{ status: 200, body: { state: 'done' } }]);
    const id = await createPolled(guarded, guardedTeam.apiKey, '/g-result/start', {
      ...POLL,
      urlTemplate: '{startResult.body.status_url}',
      resultUrlTemplate: '{startResult.body.response_url}',
    });
    const done = await waitForStatus(guarded.url, guardedTeam.apiKey, id, 'failed', 20_000);
    expect(done.error).toContain('network guard');
    expect(srv.hits('/g-result/status')).toBe(1);
    expect(await guardedJobs.count('poll', id)).toBe(1);
    expect(canary.seen).toHaveLength(0);
  });
});
