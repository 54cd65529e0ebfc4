import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { expect } from 'vitest';
import { REPO_ROOT } from './server-process.ts';

const require = createRequire(import.meta.url);
/**
 * Where the browser tests write their screenshots: the README's images (docs/screenshots) when
 * UPDATE_SCREENSHOTS=1 (`UPDATE_SCREENSHOTS=1 npm test -- test/dashboard`), else a temporary folder,
 * so that an ordinary `npm test` still takes them but leaves the checkout unchanged.
 */
export const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? path.join(REPO_ROOT, 'docs/screenshots')
    : path.join(os.tmpdir(), 'asyncqueue-screenshots');

let clients = 0;

/**
 * A page of a fresh browser context (its own cookies) that records every URL it requests. Each
 * context is a client of its own address (X-Forwarded-For, with TRUST_PROXY=1 on the server), so
 * the tests' many sign-ins do not spend one IP's budget of 10 sign-in attempts a minute.
 */
export async function newDashboardPage(browser: Browser, viewport = { width: 1280, height: 800 }) {
  clients += 1;
  const context = await browser.newContext({
    viewport,
    extraHTTPHeaders: { 'x-forwarded-for': `198.51.100.${clients % 250}` },
  });
  const page = await context.newPage();
  const requested: string[] = [];
  page.on('request', (req) => requested.push(req.url()));
  return { context, page, requested };
}

/** Signs in through the form, as a person would. */
export async function signInThroughForm(page: Page, baseUrl: string, apiKey: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** URLs requested outside the server's origin (data: URLs are not requests to anywhere). */
export function outsideOrigin(requested: string[], baseUrl: string): string[] {
  const origin = new URL(baseUrl).origin;
  return requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'));
}

let axeSource: string | undefined;

/** axe-core's serious and critical violations on the page as it is now (rule id and the nodes' targets). */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
  axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') does not apply.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: any[] }> } }).axe;
    const result = await axe.run();
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((n: { target: string[] }) => n.target.join(' ')),
    }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.targets.join(', ')}`);
}

export async function expectNoSeriousViolations(page: Page, name: string): Promise<void> {
  expect(await seriousAxeViolations(page), `axe on ${name}`).toEqual([]);
}

/** The status shown in the task list's row of `id`. */
export const rowStatus = (page: Page, id: string) => page.locator(`tr[data-task-id="${id}"] [data-status]`);
