import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

let t: TestApp;
let team: TestTeam;

beforeAll(async () => {
  t = await startTestApp();
  team = await t.newTeam();
});
afterAll(() => t.stop());

/** Every `route="…"` label value on /metrics. */
async function routeLabels(): Promise<Set<string>> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  return new Set([...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1] as string));
}

describe('metric and log route labels come from the known route table only', () => {
  it('gives random tRPC procedure names and random paths one fixed label: no new series per name', async () => {
    await routeLabels(); // /metrics itself gets its series on the first scrape
    const before = await routeLabels();
    const names = Array.from({ length: 200 }, () => `x${randomBytes(6).toString('hex')}`);
    for (let i = 0; i < names.length; i += 20) {
      await Promise.all(
        names
          .slice(i, i + 20)
          .flatMap((name) => [
            fetch(`${t.url}/trpc/${name}`).then((r) => r.arrayBuffer()),
            fetch(`${t.url}/trpc/tasks.list,${name}?batch=1`).then((r) => r.arrayBuffer()),
            fetch(`${t.url}/${name}/deeper`).then((r) => r.arrayBuffer()),
          ]),
      );
    }
    const after = await routeLabels();
    const added = [...after].filter((label) => !before.has(label));
    expect(added.filter((label) => label !== 'other')).toEqual([]);
    const text = await (await fetch(`${t.url}/metrics`)).text();
    for (const name of names) expect(text).not.toContain(name);
    const logged = t.logs.lines
      .map((line) => JSON.parse(line) as { msg?: string; route?: string })
      .filter((line) => line.msg === 'request')
      .map((line) => String(line.route));
    for (const name of names) expect(logged.some((route) => route.includes(name))).toBe(false);
  });

  it('labels known tRPC procedures by name and REST routes by template', async () => {
    const input = encodeURIComponent(JSON.stringify({ limit: 1 }));
    expect((await api(t.url, 'GET', `/trpc/tasks.list?input=${input}`, { key: team.apiKey })).status).toBe(200);
    expect((await api(t.url, 'GET', `/v1/tasks/${randomBytes(8).toString('hex')}`, { key: team.apiKey })).status).toBe(
      400,
    );
    const labels = await routeLabels();
    expect(labels.has('/trpc/tasks.list')).toBe(true);
    expect(labels.has('/v1/tasks/:id')).toBe(true);
  });
});
