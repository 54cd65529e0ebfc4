import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

/** Debian's chromium (installed by .ci/run when missing); never a browser downloaded by a tool. */
const CHROMIUM = '/usr/bin/chromium';

let t: TestApp;
let browser: Browser;
let profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); .ci/run does this`,
    );
  }
  t = await startTestApp();
  profile = await mkdtemp(path.join(os.tmpdir(), 'aq-chromium-'));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // playwright-core gives the browser a fresh temporary profile of its own.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await t?.stop();
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe('/docs API reference', () => {
  it('renders every task operation and requests nothing outside our server', async () => {
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on('request', (req) => requested.push(req.url()));
    const response = await page.goto(`${t.url}/docs`, { waitUntil: 'networkidle' });
    expect(response?.status()).toBe(200);
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    const text = (await page.locator('#swagger-ui').textContent()) ?? '';
    for (const route of [
      '/v1/tasks',
      '/v1/tasks/{id}',
      '/v1/tasks/{id}/cancel',
      '/v1/tasks/{id}/webhook/redeliver',
      '/v1/callbacks/{callbackId}',
      '/v1/signals/{signalToken}',
      '/v1/tokens',
      '/v1/providers',
    ]) {
      expect(text).toContain(route);
    }
    expect(text).toContain('Create a task');
    const origin = new URL(t.url).origin;
    const outside = requested.filter((url) => !url.startsWith(origin) && !url.startsWith('data:'));
    expect(outside).toEqual([]);
    expect(requested.some((url) => url.endsWith('/openapi.json'))).toBe(true);
    await page.screenshot({ path: path.join(profile, 'docs.png') });
  });
});
