/**
 * Dashboard features built on the batch/replay/bulk and flow-control routes: counts by status,
 * replay, bulk actions, flow keys, and why a held task waits. (Against a server without those
 * routes the dashboard shows a note instead.)
 */
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/browser.ts';
import {
  expectNoSeriousViolations,
  newDashboardPage,
  outsideOrigin,
  SCREENSHOTS,
  signInThroughForm,
} from './helpers/dashboard-browser.ts';
import { api } from './helpers/http.ts';
import { delayedTask } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

let t: TestApp;
let browser: Browser;
let team: TestTeam;
const allRequests: string[] = [];

beforeAll(async () => {
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000', TRUST_PROXY: '1' });
  team = await t.newTeam();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t?.stop();
});

async function openSignedIn() {
  const opened = await newDashboardPage(browser);
  opened.page.on('request', (req) => allRequests.push(req.url()));
  opened.page.on('dialog', (dialog) => void dialog.accept());
  await signInThroughForm(opened.page, t.url, team.apiKey);
  return opened;
}

describe('dashboard with replay, bulk actions, counts and flow keys', () => {
  it('shows the counts by status of GET /v1/tasks/stats', async () => {
    await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(1) });
    const { page, context } = await openSignedIn();
    const counts = page.getByRole('list', { name: 'Tasks by status' });
    await counts.waitFor();
    expect(await counts.textContent()).toMatch(/delayed\s*[1-9]/);
    await context.close();
  });

  it('replays an ended task from its page and opens the new task', async () => {
    const task = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(2) });
    await api(t.url, 'POST', `/v1/tasks/${task.body.task.id}/cancel`, { key: team.apiKey });
    const { page, context } = await openSignedIn();
    await page.goto(`${t.url}/#/tasks/${task.body.task.id}`);
    await page.getByRole('button', { name: 'Replay' }).click();
    await page.waitForURL((url) => url.hash.startsWith('#/tasks/') && !url.hash.endsWith(task.body.task.id));
    const newId = new URL(page.url()).hash.slice('#/tasks/'.length);
    const replayed = await api(t.url, 'GET', `/v1/tasks/${newId}`, { key: team.apiKey });
    expect(replayed.status).toBe(200);
    expect(replayed.body.task.targetUrl).toBe(task.body.task.targetUrl);
    await context.close();
  });

  it('bulk-cancels every task matching a filter', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      ids.push((await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(10 + i) })).body.task.id);
    }
    const { page, context } = await openSignedIn();
    await page.getByLabel('Status', { exact: true }).selectOption('delayed');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('button', { name: 'Cancel all matching' }).click();
    await page.getByText(/changed/).waitFor();
    for (const id of ids) {
      expect((await api(t.url, 'GET', `/v1/tasks/${id}`, { key: team.apiKey })).body.task.status).toBe('cancelled');
    }
    await context.close();
  });

  it('flow keys: set limits, pause and resume from the page; passes axe', async () => {
    const { page, context } = await openSignedIn();
    await page.getByRole('link', { name: 'Flow keys' }).click();
    await page.getByRole('heading', { name: 'Flow keys' }).waitFor();
    await page.getByLabel('Key', { exact: true }).fill('fal-ai');
    await page.getByLabel('Concurrency').fill('4');
    await page.getByLabel('Requests a minute').fill('60');
    await page.getByRole('button', { name: 'Save limits' }).click();
    await page.getByRole('cell', { name: 'fal-ai', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    await expectNoSeriousViolations(page, 'flow keys');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'flow-keys.png') });
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    await context.close();
  });

  it('a task held by its paused flow key says so on its page: the key, the reason and its position', async () => {
    await api(t.url, 'PUT', '/v1/flow-keys/held-key', { key: team.apiKey, body: { concurrency: 1 } });
    await api(t.url, 'POST', '/v1/flow-keys/held-key/pause', { key: team.apiKey });
    const created = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: 'https://example.com/held', flowKey: 'held-key' },
    });
    expect(created.status).toBe(201);
    const { page, context } = await openSignedIn();
    await page.goto(`${t.url}/#/tasks/${created.body.task.id}`);
    const held = page.getByRole('status').filter({ hasText: 'Held by flow key' });
    await held.waitFor();
    expect(await held.textContent()).toMatch(/held-key.*\(paused\), position 1/);
    await context.close();
  });

  it('no page requested anything outside the server', () => {
    expect(outsideOrigin(allRequests, t.url)).toEqual([]);
  });
});
