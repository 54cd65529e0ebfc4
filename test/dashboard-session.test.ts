import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../server/src/auth/teams.ts';
import { signIn } from './helpers/dashboard-session.ts';
import { api } from './helpers/http.ts';
import { delayedTask } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

let t: TestApp;
let team: TestTeam;
let other: TestTeam;

beforeAll(async () => {
  t = await startTestApp({ TRUST_PROXY: '1' });
  team = await t.newTeam();
  other = await t.newTeam();
});
afterAll(async () => {
  await t?.stop();
});

const sessionRows = (sql: string, params: unknown[] = []) => t.app.orm.em.fork().getConnection().execute(sql, params);

describe('dashboard sessions', () => {
  it('sign-in sets an HttpOnly SameSite=Strict cookie, stores only its SHA-256 and never the key', async () => {
    const session = await signIn(t.url, team.apiKey);
    expect(session.setCookie).toMatch(
      /^aq_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/,
    );
    const rows = await sessionRows('select * from dashboard_sessions where team_id = ?', [team.teamId]);
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(session.sessionId);
    expect(stored).not.toContain(team.apiKey);
    expect(rows[0]!.id_hash).toBe(createHash('sha256').update(session.sessionId).digest('hex'));
    const read = await api(t.url, 'GET', '/dashboard/session', { headers: { cookie: session.cookie } });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ teamId: team.teamId, csrfToken: session.csrfToken, expiresAt: expect.any(String) });
    expect(read.text).not.toContain(team.apiKey);
  });

  it('a wrong key gets 401 with a clear message and no cookie', async () => {
    const res = await api(t.url, 'POST', '/dashboard/session', { body: { apiKey: `async_${'x'.repeat(48)}` } });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('Invalid or revoked API key');
    expect(res.headers.get('set-cookie')).toBeNull();
    const form = await api(t.url, 'POST', '/dashboard/session', {
      rawBody: `apiKey=${team.apiKey}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
  });

  it('the cookie authenticates the REST API for its team only; a state change needs the CSRF token, a key does not', async () => {
    const own = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(1) });
    const theirs = await api(t.url, 'POST', '/v1/tasks', { key: other.apiKey, body: delayedTask(2) });
    const session = await signIn(t.url, team.apiKey);
    const cookie = { cookie: session.cookie };
    const list = await api(t.url, 'GET', '/v1/tasks?limit=100', { headers: cookie });
    expect(list.status).toBe(200);
    const ids = list.body.tasks.map((task: { id: string }) => task.id);
    expect(ids).toContain(own.body.task.id);
    expect(ids).not.toContain(theirs.body.task.id);
    expect(list.headers.get('x-ratelimit-limit')).toBe('600');
    expect((await api(t.url, 'GET', `/v1/tasks/${theirs.body.task.id}`, { headers: cookie })).status).toBe(404);

    const withoutToken = await api(t.url, 'POST', `/v1/tasks/${own.body.task.id}/cancel`, { headers: cookie });
    expect(withoutToken.status).toBe(401);
    expect(withoutToken.body.error).toContain('X-CSRF-Token');
    // The same length, one character changed (never the same token by chance).
    const flipped = session.csrfToken.endsWith('A') ? 'B' : 'A';
    const wrongToken = { ...cookie, 'x-csrf-token': `${session.csrfToken.slice(0, -1)}${flipped}` };
    expect((await api(t.url, 'POST', `/v1/tasks/${own.body.task.id}/cancel`, { headers: wrongToken })).status).toBe(
      401,
    );
    expect((await api(t.url, 'GET', `/v1/tasks/${own.body.task.id}`, { key: team.apiKey })).body.task.status).toBe(
      'delayed',
    );
    const withToken = { ...cookie, 'x-csrf-token': session.csrfToken };
    const cancelled = await api(t.url, 'POST', `/v1/tasks/${own.body.task.id}/cancel`, { headers: withToken });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.task.status).toBe('cancelled');
    const byKey = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(3) });
    expect((await api(t.url, 'POST', `/v1/tasks/${byKey.body.task.id}/cancel`, { key: team.apiKey })).status).toBe(200);
  });

  it('tRPC takes the cookie too, with the same CSRF rule', async () => {
    const own = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(7) });
    const session = await signIn(t.url, team.apiKey);
    const input = { id: own.body.task.id };
    const refused = await api(t.url, 'POST', '/trpc/tasks.cancel', {
      headers: { cookie: session.cookie },
      body: input,
    });
    expect(refused.status).toBe(401);
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrfToken };
    expect((await api(t.url, 'POST', '/trpc/tasks.cancel', { headers, body: input })).status).toBe(200);
  });

  it('bounds the sign-in body (4 KiB) and refuses one that is not {"apiKey"}', async () => {
    const big = await api(t.url, 'POST', '/dashboard/session', { body: { apiKey: 'a'.repeat(5000) } });
    expect(big.status).toBe(413);
    const bad = await api(t.url, 'POST', '/dashboard/session', { body: { key: team.apiKey } });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([{ path: 'apiKey', message: 'expected an API key string' }]);
    const notJson = await api(t.url, 'POST', '/dashboard/session', {
      rawBody: '{',
      headers: { 'content-type': 'application/json' },
    });
    expect(notJson.status).toBe(400);
  });

  it('serves the dashboard at / with a self-only Content-Security-Policy, and its two assets', async () => {
    const page = await fetch(`${t.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    expect(html).toContain('/dashboard/app.js');
    const script = await fetch(`${t.url}/dashboard/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await script.text()).length).toBeGreaterThan(1000);
    expect((await fetch(`${t.url}/dashboard/app.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await fetch(`${t.url}/dashboard/other.js`)).status).toBe(404);
  });

  it('sign-out ends the session and clears the cookie', async () => {
    const session = await signIn(t.url, team.apiKey);
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrfToken };
    const out = await api(t.url, 'DELETE', '/dashboard/session', { headers });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^aq_session=; .*Max-Age=0/);
    expect((await api(t.url, 'GET', '/v1/tasks', { headers: { cookie: session.cookie } })).status).toBe(401);
    const noToken = await signIn(t.url, team.apiKey);
    const refused = await api(t.url, 'DELETE', '/dashboard/session', { headers: { cookie: noToken.cookie } });
    expect(refused.status).toBe(401);
    expect((await api(t.url, 'GET', '/v1/tasks', { headers: { cookie: noToken.cookie } })).status).toBe(200);
  });

  it('revoking the key ends its sessions at the next request; an expired session is refused', async () => {
    const revoked = await t.newTeam();
    const session = await signIn(t.url, revoked.apiKey);
    const cookie = { cookie: session.cookie };
    expect((await api(t.url, 'GET', '/v1/tasks', { headers: cookie })).status).toBe(200);
    const [key] = await sessionRows('select id from api_keys where team_id = ?', [revoked.teamId]);
    await revokeApiKey(t.app.orm.em.fork(), key!.id);
    const after = await api(t.url, 'GET', '/v1/tasks', { headers: cookie });
    expect(after.status).toBe(401);
    expect(after.body.error).toContain('sign in again');

    const expiring = await signIn(t.url, team.apiKey);
    await sessionRows(`update dashboard_sessions set expires_at = now() - interval '1 second' where id_hash = ?`, [
      createHash('sha256').update(expiring.sessionId).digest('hex'),
    ]);
    expect((await api(t.url, 'GET', '/v1/tasks', { headers: { cookie: expiring.cookie } })).status).toBe(401);
  });

  it('limits sign-in attempts per client IP (429 with Retry-After past 10 a minute); the cookie is Secure behind https', async () => {
    const limited = await startTestApp({ PUBLIC_URL: 'https://aq.example.com' });
    try {
      const limitedTeam = await limited.newTeam();
      const session = await signIn(limited.url, limitedTeam.apiKey);
      expect(session.setCookie).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/);
      const statuses: number[] = [];
      for (let i = 0; i < 10; i += 1) {
        const res = await api(limited.url, 'POST', '/dashboard/session', { body: { apiKey: 'nope' } });
        statuses.push(res.status);
        if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      expect(statuses.slice(0, 9).every((s) => s === 401)).toBe(true);
      expect(statuses[9]).toBe(429);
    } finally {
      await limited.stop();
    }
  });
});
