import { lookup } from 'node:dns/promises';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { type LifecycleFixture, useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { type AppDb, openAppDb } from './helpers/pgboss-jobs.ts';
import { type RecordingServer, startRecordingServer } from './helpers/recording-server.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { countTasks, detailPaths, expectErrorBody } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

// The network guard end to end: a canary HTTP server on loopback counts every hit,
// and must see none. The full address table is unit-tested in server/src/dispatch/network-guard.test.ts.

const GUARD = /network guard/i;

/** True when every address `host` resolves to is loopback (false when it does not resolve). */
async function resolvesToLoopback(host: string): Promise<boolean> {
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.length > 0 && addresses.every((a) => a.address.startsWith('127.') || a.address === '::1');
  } catch {
    return false;
  }
}

describe('with ASYNCQUEUE_ALLOWED_CIDRS unset (nothing private allowed)', () => {
  let t: TestApp;
  let team: TestTeam;
  let canary: RecordingServer;
  let db: AppDb;

  beforeAll(async () => {
    // An empty value is "unset" for the config loader; it overrides the harness's 127.0.0.0/8.
    t = await startTestApp({ ASYNCQUEUE_ALLOWED_CIDRS: '', ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' });
    team = await t.newTeam();
    canary = await startRecordingServer({ host: '127.0.0.1' });
    db = await openAppDb(t.databaseUrl);
  });
  afterAll(async () => {
    await db?.close();
    await t?.stop();
    await canary?.stop();
  });

  const create = (body: Record<string, unknown>) => api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body });

  it('rejects literal private targets at creation with 400 and stores nothing', async () => {
    const port = canary.port;
    const vectors = [
      `http://127.0.0.1:${port}/`,
      `http://10.0.0.1/`,
      'http://169.254.169.254/latest/meta-data/',
      `http://[::1]:${port}/`,
      `http://0x7f000001:${port}/`,
      `http://2130706433:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://0.0.0.0:${port}/`,
      'http://100.64.0.1/',
      'http://192.168.1.1/',
    ];
    for (const targetUrl of vectors) {
      const res = await create({ targetUrl });
      expectErrorBody(res, 400, 'validation_failed');
      expect(detailPaths(res), targetUrl).toEqual(['targetUrl']);
      expect(res.body.details[0].message, targetUrl).toMatch(GUARD);
    }
    const hook = await create({ targetUrl: 'https://example.com/x', onCompleteUrl: `http://127.0.0.1:${port}/hook` });
    expectErrorBody(hook, 400, 'validation_failed');
    expect(detailPaths(hook)).toEqual(['onCompleteUrl']);
    expect(hook.body.details[0].message).toMatch(GUARD);
    expect(await countTasks(t.url, team.apiKey)).toBe(0);
    expect(canary.hits()).toBe(0);
  });

  it('fails a host name that resolves to loopback at once: one attempt, not retried, error naming the guard', async () => {
    expect(await resolvesToLoopback('localhost')).toBe(true);
    const optional = ['localhost.', os.hostname()];
    const hosts = ['localhost'];
    for (const host of optional) if (await resolvesToLoopback(host)) hosts.push(host);
    console.log(
      `[network-guard-e2e] loopback host names tried: ${hosts.join(', ')} (not resolvable to loopback here: ${
        optional.filter((h) => !hosts.includes(h)).join(', ') || 'none'
      })`,
    );
    for (const host of hosts) {
      const res = await create({ targetUrl: `http://${host}:${canary.port}/target`, maxRetries: 3 });
      expect(res.status, res.text).toBe(201);
      const id = res.body.task.id as string;
      const done = await waitForStatus(t.url, team.apiKey, id, 'failed', 15_000);
      expect(done.attempts, host).toHaveLength(1);
      expect(done.attempts[0]).toMatchObject({ number: 1, statusCode: null, willRetry: false });
      expect(done.error, host).toMatch(GUARD);
      expect(done.error).toMatch(/loopback/);
      expect(done.retryCount).toBe(0);
      expect(await db.queued('dispatch', id)).toEqual([]);
    }
    expect(canary.hits()).toBe(0);
  });

  it('refuses a webhook to a host name that resolves to loopback, recording the guard error', async () => {
    const res = await create({
      targetUrl: `http://localhost:${canary.port}/target`,
      onCompleteUrl: `http://localhost:${canary.port}/hook`,
    });
    expect(res.status, res.text).toBe(201);
    const id = res.body.task.id as string;
    await waitForStatus(t.url, team.apiKey, id, 'failed', 15_000);
    const [delivery] = await waitFor('the webhook delivery to be recorded', async () => {
      const row = await db.taskRow(id);
      return row.webhookDeliveries.length > 0 ? row.webhookDeliveries : null;
    });
    expect(delivery).toMatchObject({ attempt: 1, statusCode: null });
    expect(delivery.error).toMatch(GUARD);
    expect(canary.hits()).toBe(0);
  });

  it('the canary received zero requests', () => {
    expect(canary.received).toEqual([]);
  });
});

/** What a describe allowing only some loopback ranges works with; the canary is null where its host cannot be bound. */
type GuardedLoopback = {
  fx: LifecycleFixture;
  canary: RecordingServer | null;
  bindError: NodeJS.ErrnoException | null;
};

/**
 * Registers, in the calling describe, an app allowing only `allowedCidrs` with a team and a fake
 * provider (on 127.0.0.1), and a canary recording server on `canaryHost` (an address outside the
 * allowed ranges, which some sandboxes cannot bind: then `bindError` says why).
 */
function useGuardedLoopback(allowedCidrs: string, canaryHost: string): GuardedLoopback {
  const fx = useLifecycleFixture(
    { ASYNCQUEUE_ALLOWED_CIDRS: allowedCidrs, ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' },
    { webhookSink: false, appDb: false },
  );
  const parts: GuardedLoopback = { fx, canary: null, bindError: null };
  beforeAll(async () => {
    try {
      parts.canary = await startRecordingServer({ host: canaryHost });
    } catch (error) {
      parts.bindError = error as NodeJS.ErrnoException;
    }
  });
  afterAll(async () => {
    await parts.canary?.stop();
  });
  return parts;
}

describe('with only 127.0.0.1/32 allowed', () => {
  const guarded = useGuardedLoopback('127.0.0.1/32', '127.0.0.2');
  const { fx } = guarded;

  const redirectTask = async (to: string) => {
    const res = await api(fx.t.url, 'POST', '/v1/tasks', {
      key: fx.team.apiKey,
      body: { targetUrl: fx.provider.url(`/redirect?to=${encodeURIComponent(to)}`), maxRetries: 3 },
    });
    expect(res.status, res.text).toBe(201);
    const id = res.body.task.id as string;
    const done = await fx.until(id, 'failed');
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ statusCode: null, willRetry: false });
    expect(done.error).toMatch(GUARD);
    expect(fx.requestsFor(id)).toHaveLength(1);
    return done;
  };

  it('calls 127.0.0.1 itself (the allowed /32): the refusals below are the guard, not a dead target', async () => {
    const res = await api(fx.t.url, 'POST', '/v1/tasks', {
      key: fx.team.apiKey,
      body: { targetUrl: fx.provider.url('/ok') },
    });
    expect(res.status, res.text).toBe(201);
    const done = await fx.until(res.body.task.id, 'completed');
    expect(done.result.statusCode).toBe(200);
  });

  it('refuses a redirect from 127.0.0.1 to 127.0.0.2: the canary there gets nothing', async () => {
    const { canary, bindError } = guarded;
    if (canary === null) {
      // Some sandboxes have only 127.0.0.1: say so explicitly, and still check the refusal below.
      expect(bindError?.code).toBe('EADDRNOTAVAIL');
      console.log('[network-guard-e2e] 127.0.0.2 is not bindable here: refusal checked without a canary');
    }
    const port = canary?.port ?? 9;
    const done = await redirectTask(`http://127.0.0.2:${port}/`);
    expect(done.error).toContain('127.0.0.2');
    if (canary !== null) expect(canary.hits()).toBe(0);
  });

  it('refuses a redirect to 127.0.0.2 in IPv4-mapped IPv6 form', async () => {
    const { canary } = guarded;
    const port = canary?.port ?? 9;
    const done = await redirectTask(`http://[::ffff:127.0.0.2]:${port}/`);
    expect(done.error).toContain('127.0.0.2');
    if (canary !== null) expect(canary.hits()).toBe(0);
  });
});

describe('with only 127.0.0.0/8 allowed, [::1] stays refused (the list means exactly its ranges)', () => {
  const guarded = useGuardedLoopback('127.0.0.0/8', '::1');
  const { fx } = guarded;

  const create = (body: Record<string, unknown>) => api(fx.t.url, 'POST', '/v1/tasks', { key: fx.team.apiKey, body });

  it('a target at http://[::1]:port is refused at creation, and a redirect there fails the task', async () => {
    const { canary, bindError } = guarded;
    if (canary === null) {
      // Some sandboxes have no IPv6 loopback: say so, and still check both refusals.
      expect(['EADDRNOTAVAIL', 'EAFNOSUPPORT']).toContain(bindError?.code);
      console.log('[network-guard-e2e] ::1 is not bindable here: refusals checked without a canary');
    }
    const target = `http://[::1]:${canary?.port ?? 9}/`;
    const refused = await create({ targetUrl: target });
    expect(refused.status, refused.text).toBe(400);
    expect(refused.text).toMatch(GUARD);
    expect(detailPaths(refused)).toEqual(['targetUrl']);

    const res = await create({
      targetUrl: fx.provider.url(`/redirect?to=${encodeURIComponent(target)}`),
      maxRetries: 3,
    });
    expect(res.status, res.text).toBe(201);
    const done = await fx.until(res.body.task.id, 'failed');
    expect(done.error).toMatch(GUARD);
    expect(done.error).toContain('::1');
    expect(done.attempts).toHaveLength(1);
    if (canary !== null) expect(canary.hits()).toBe(0);
  });
});
