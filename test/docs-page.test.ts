import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './helpers/browser.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

let t: TestApp;
let browser: Browser;
let profile: string;

beforeAll(async () => {
  t = await startTestApp();
  profile = await mkdtemp(path.join(os.tmpdir(), 'aq-chromium-'));
  // Debian's chromium when installed, else the one that comes through npm (see helpers/browser.ts).
  browser = await launchChromium();
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

  it('keeps an API key entered in "Authorize" out of the browser storage (localStorage, sessionStorage)', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.url}/docs`, { waitUntil: 'networkidle' });
    await page.waitForSelector('.opblock', { timeout: 20_000 });
    const key = `async_${'k'.repeat(48)}`;
    // Through the Authorize dialog, as a person would: every scheme's field filled and submitted.
    await page.click('button.authorize');
    const fields = page.locator('.modal-ux input');
    await fields.first().waitFor({ timeout: 10_000 });
    for (let i = 0; i < (await fields.count()); i += 1) await fields.nth(i).fill(key);
    const submit = page.locator('.modal-ux button.modal-btn.auth.authorize');
    for (let i = 0; i < (await submit.count()); i += 1) await submit.nth(i).click();
    await page.getByText('Authorized', { exact: true }).first().waitFor({ timeout: 10_000 });
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    expect(stored).not.toContain(key);
    await page.close();
  });
});
