import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../server/src/auth/teams.ts';
import { launchChromium } from './helpers/browser.ts';
import {
  expectNoSeriousViolations,
  newDashboardPage,
  outsideOrigin,
  rowStatus,
  SCREENSHOTS,
  signInThroughForm,
} from './helpers/dashboard-browser.ts';
import { api } from './helpers/http.ts';
import { gradientPng } from './helpers/png.ts';
import { type RecordingServer, startRecordingServer } from './helpers/recording-server.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { delayedTask } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { startWebhookSink } from './helpers/webhook-sink.ts';

/** A result whose body is an image (previewed from its base64). */
const PNG_BASE64 = gradientPng(160, 96).toString('base64');
/** Why 1 s: the product promise for a change to show in an open page without reload. */
const LIVE_BOUND_MS = 1000;

let t: TestApp;
let browser: Browser;
let team: TestTeam;
let other: TestTeam;
let provider: RecordingServer;
let sink: Awaited<ReturnType<typeof startWebhookSink>>;
const allRequests: string[] = [];

beforeAll(async () => {
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000', TRUST_PROXY: '1' });
  team = await t.newTeam();
  other = await t.newTeam();
  provider = await startRecordingServer({
    answer: (req) =>
      req.path.startsWith('/image')
        ? { status: 200, headers: { 'content-type': 'image/png' }, body: Buffer.from(PNG_BASE64, 'base64') as never }
        : { status: 200, headers: { 'content-type': 'application/json' }, body: '{"output":{"text":"hello"}}' },
  });
  sink = await startWebhookSink(() => team.webhookSecret);
  browser = await launchChromium();
  await mkdir(SCREENSHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await provider?.stop();
  await sink?.stop();
  await t?.stop();
});

async function openSignedIn(apiKey = team.apiKey, viewport?: { width: number; height: number }) {
  const opened = await newDashboardPage(browser, viewport);
  opened.page.on('request', (req) => allRequests.push(req.url()));
  await signInThroughForm(opened.page, t.url, apiKey);
  return opened;
}

describe('dashboard in chromium', () => {
  it('a wrong key shows a clear error; the sign-in page passes axe', async () => {
    const { page, context } = await newDashboardPage(browser);
    page.on('request', (req) => allRequests.push(req.url()));
    await page.goto(`${t.url}/`);
    await page.getByLabel('API key').waitFor();
    await expectNoSeriousViolations(page, 'sign-in');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'sign-in.png') });
    await page.getByLabel('API key').fill(`async_${'w'.repeat(48)}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('this API key is wrong or revoked');
    expect(await context.cookies()).toEqual([]);
    await context.close();
  });

  it('signs in, lists only the signed-in team tasks, and shows a status change made through the API within 1 s', async () => {
    const own = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(1) });
    const theirs = await api(t.url, 'POST', '/v1/tasks', { key: other.apiKey, body: delayedTask(2) });
    const { page, context } = await openSignedIn();
    await rowStatus(page, own.body.task.id).waitFor();
    expect(await page.locator(`tr[data-task-id="${theirs.body.task.id}"]`).count()).toBe(0);
    const cookies = await context.cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([['aq_session', true, 'Strict']]);
    expect(await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }))).not.toContain(
      team.apiKey,
    );

    const cancel = await api(t.url, 'POST', `/v1/tasks/${own.body.task.id}/cancel`, { key: team.apiKey });
    expect(cancel.status).toBe(200);
    const started = Date.now();
    await page.locator(`tr[data-task-id="${own.body.task.id}"] [data-status="cancelled"]`).waitFor({ timeout: 10_000 });
    const elapsed = Date.now() - started;
    process.stdout.write(`live list: status change shown ${elapsed} ms after the API answered\n`);
    expect(elapsed).toBeLessThan(LIVE_BOUND_MS);
    await expectNoSeriousViolations(page, 'tasks');
    await context.close();
  });

  it('a status change made through the API shows in the open task page within 1 s', async () => {
    const task = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(4) });
    const { page, context } = await openSignedIn();
    await page.goto(`${t.url}/#/tasks/${task.body.task.id}`);
    await expect.poll(() => page.getByTestId('task-status').textContent()).toBe('delayed');
    await api(t.url, 'POST', `/v1/tasks/${task.body.task.id}/cancel`, { key: team.apiKey });
    const started = Date.now();
    await page.locator('[data-testid="task-status"].cancelled').waitFor({ timeout: 10_000 });
    const elapsed = Date.now() - started;
    process.stdout.write(`live task page: status change ${elapsed} ms\n`);
    expect(elapsed).toBeLessThan(LIVE_BOUND_MS);
    await context.close();
  });

  it('cancel from the task page works and is reflected in the API', async () => {
    const task = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(5) });
    const { page, context } = await openSignedIn();
    await page.goto(`${t.url}/#/tasks/${task.body.task.id}`);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.locator('[data-testid="task-status"].cancelled').waitFor();
    expect((await api(t.url, 'GET', `/v1/tasks/${task.body.task.id}`, { key: team.apiKey })).body.task.status).toBe(
      'cancelled',
    );
    await context.close();
  });

  it('shows the attempts, the result with its image preview and webhook deliveries; redeliver works', async () => {
    const body = { targetUrl: provider.url('/image.png'), onCompleteUrl: sink.url, body: '{"prompt":"a cat"}' };
    const task = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body });
    const id = task.body.task.id;
    await waitForStatus(t.url, team.apiKey, id, 'completed');
    await expect.poll(() => sink.forTask(id).length, { timeout: 15_000 }).toBe(1);
    const { page, context } = await openSignedIn();
    await page.goto(`${t.url}/#/tasks/${id}`);
    await page.getByRole('heading', { name: /Attempts \(1 of/ }).waitFor();
    const preview = page.getByRole('img', { name: 'Result preview' });
    await preview.waitFor();
    expect(await preview.getAttribute('src')).toBe(`data:image/png;base64,${PNG_BASE64}`);
    await expect.poll(() => page.getByTestId('deliveries').locator('tr').count()).toBe(1);
    // Whole, as stored (a list-shaped event of the task must not replace it with a capped body).
    expect(await page.getByText('truncated').count()).toBe(0);
    expect(await preview.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(160);
    await expectNoSeriousViolations(page, 'task');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'task.png'), fullPage: true });
    await page.getByRole('button', { name: 'Redeliver webhook' }).click();
    await expect.poll(() => sink.forTask(id).length, { timeout: 15_000 }).toBe(2);
    await expect.poll(() => page.getByTestId('deliveries').locator('tr').count(), { timeout: 10_000 }).toBe(2);
    await context.close();
  });

  it('a media URL in a result is a link with a preview button: nothing is requested from it until clicked', async () => {
    const mediaUrl = 'https://cdn.example.com/out/video.mp4';
    const answer = JSON.stringify({ video: { url: mediaUrl }, images: [{ url: 'https://cdn.example.com/a.png' }] });
    const media = await startRecordingServer({
      answer: () => ({ status: 200, headers: { 'content-type': 'application/json' }, body: answer }),
    });
    try {
      const task = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: { targetUrl: media.url('/run') } });
      await waitForStatus(t.url, team.apiKey, task.body.task.id, 'completed');
      const { page, context, requested } = await openSignedIn();
      await page.goto(`${t.url}/#/tasks/${task.body.task.id}`);
      await page.getByRole('button', { name: 'Preview video' }).waitFor();
      await page.getByRole('button', { name: 'Preview image' }).waitFor();
      expect(await page.getByRole('link', { name: mediaUrl }).getAttribute('href')).toBe(mediaUrl);
      expect(requested.filter((url) => url.includes('cdn.example.com'))).toEqual([]);
      await context.close();
    } finally {
      await media.stop();
    }
  });

  it('vault tokens: create, list and delete from the page; the value is never shown', async () => {
    const { page, context } = await openSignedIn();
    await page.getByRole('link', { name: 'Vault tokens' }).click();
    await page.getByLabel('Name').fill('fal-key');
    await page.getByLabel('Secret value').fill('sk-very-secret-value');
    await page.getByRole('button', { name: 'Store' }).click();
    await page.getByRole('cell', { name: 'fal-key', exact: true }).waitFor();
    expect(await page.content()).not.toContain('sk-very-secret-value');
    await expectNoSeriousViolations(page, 'vault tokens');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'tokens.png') });
    await page.getByRole('button', { name: 'Delete fal-key' }).click();
    await page.getByText('No tokens yet.').waitFor();
    expect((await api(t.url, 'GET', '/v1/tokens', { key: team.apiKey })).body.tokens).toEqual([]);
    await context.close();
  });

  it('keyboard only: sign in, reach a task link and open it', async () => {
    await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(6) });
    const { page, context } = await newDashboardPage(browser);
    page.on('request', (req) => allRequests.push(req.url()));
    await page.goto(`${t.url}/`);
    await page.getByLabel('API key').waitFor();
    for (let i = 0; i < 5 && (await page.evaluate(() => document.activeElement?.id)) !== 'apiKey'; i += 1) {
      await page.keyboard.press('Tab');
    }
    await page.keyboard.type(team.apiKey);
    await page.keyboard.press('Enter');
    await page.locator('tr[data-task-id] a').first().waitFor();
    let focusedTaskLink = false;
    for (let i = 0; i < 40 && !focusedTaskLink; i += 1) {
      await page.keyboard.press('Tab');
      focusedTaskLink = await page.evaluate(() => document.activeElement?.closest('tr[data-task-id]') !== null);
    }
    expect(focusedTaskLink).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: /^Task / }).waitFor();
    await context.close();
  });

  it('the flow keys page opens with its limits form, and passes axe', async () => {
    const { page, context } = await openSignedIn();
    await page.getByRole('link', { name: 'Flow keys' }).click();
    await page.getByRole('heading', { name: 'Flow keys' }).waitFor();
    await expect.poll(() => page.locator('main').textContent()).toMatch(/Save limits/);
    await expectNoSeriousViolations(page, 'flow keys');
    await context.close();
  });

  it('screenshots of the task list at 1280 × 800 and at a phone width', async () => {
    for (let i = 0; i < 3; i += 1) {
      await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: { targetUrl: provider.url(`/run/${i}`) } });
    }
    const { page, context } = await openSignedIn();
    await page.locator('tr[data-task-id] [data-status="completed"]').first().waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'tasks.png') });
    await context.close();
    const phone = await openSignedIn(team.apiKey, { width: 390, height: 844 });
    await phone.page.locator('tr[data-task-id]').first().waitFor();
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await expectNoSeriousViolations(phone.page, 'tasks at phone width');
    await phone.page.screenshot({ path: path.join(SCREENSHOTS, 'tasks-phone.png') });
    await phone.context.close();
  });

  it('sign-out ends the session: the old cookie no longer works', async () => {
    const { page, context } = await openSignedIn();
    const [cookie] = await context.cookies();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await context.cookies()).toEqual([]);
    const replayed = await api(t.url, 'GET', '/v1/tasks', { headers: { cookie: `aq_session=${cookie?.value}` } });
    expect(replayed.status).toBe(401);
    await context.close();
  });

  it('revoking the key ends the session: the next action returns to sign-in with a notice', async () => {
    const revoked = await t.newTeam();
    const { page, context } = await openSignedIn(revoked.apiKey);
    const [key] = await t.app.orm.em
      .fork()
      .getConnection()
      .execute('select id from api_keys where team_id = ?', [revoked.teamId]);
    await revokeApiKey(t.app.orm.em.fork(), key!.id);
    await page.getByRole('link', { name: 'Vault tokens' }).click();
    await page.getByLabel('API key').waitFor();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('session ended');
    await context.close();
  });

  it('no page requested anything outside the server', () => {
    expect(allRequests.length).toBeGreaterThan(20);
    expect(outsideOrigin(allRequests, t.url)).toEqual([]);
  });
});
