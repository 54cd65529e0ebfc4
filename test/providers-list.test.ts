import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

/** The preset table (README.md, GET /v1/providers), with the providers' real URLs. */
const TABLE = {
  fal: {
    urlTemplate: '{startResult.body.status_url}',
    resultUrlTemplate: '{startResult.body.response_url}',
    interval: 3,
    statusPath: 'status',
    doneValues: ['COMPLETED'],
    failValues: ['FAILED'],
    resultPath: '',
    errorPath: null,
    maxDuration: 600,
  },
  replicate: {
    urlTemplate: 'https://api.replicate.com/v1/predictions/{startResult.body.id}',
    interval: 5,
    statusPath: 'status',
    doneValues: ['succeeded'],
    failValues: ['failed', 'canceled'],
    resultPath: 'output',
    errorPath: 'error',
    maxDuration: 600,
  },
  runwayml: {
    urlTemplate: 'https://api.dev.runwayml.com/v1/tasks/{startResult.body.id}',
    interval: 5,
    statusPath: 'status',
    doneValues: ['SUCCEEDED'],
    failValues: ['FAILED', 'CANCELLED'],
    resultPath: 'output',
    errorPath: 'failure',
    maxDuration: 600,
  },
  luma: {
    urlTemplate: 'https://api.lumalabs.ai/dream-machine/v1/generations/{startResult.body.id}',
    interval: 5,
    statusPath: 'state',
    doneValues: ['completed'],
    failValues: ['failed'],
    resultPath: 'assets.video',
    errorPath: 'failure_reason',
    maxDuration: 600,
  },
  'elevenlabs-dubbing': {
    urlTemplate: 'https://api.elevenlabs.io/v1/dubbing/{startResult.body.dubbing_id}',
    interval: 10,
    statusPath: 'status',
    doneValues: ['dubbed'],
    failValues: ['failed'],
    resultPath: '',
    errorPath: 'error',
    maxDuration: 1800,
  },
  'stability-video': {
    urlTemplate: 'https://api.stability.ai/v2beta/image-to-video/result/{startResult.body.id}',
    interval: 10,
    statusPath: '$httpStatus',
    doneValues: ['200'],
    failValues: ['400', '404', '500'],
    resultPath: '',
    errorPath: null,
    maxDuration: 600,
  },
} as const;

type Listed = { id: string; name: string; description: string; pollConfig: Record<string, any> };

/** Compares one listed preset with its table row; "whole body" / "no errorPath" may be '' or null. */
function expectPreset(listed: Listed, row: Record<string, unknown>) {
  const { resultPath, errorPath, ...exact } = row;
  expect(listed.pollConfig, listed.id).toMatchObject(exact);
  expect(listed.pollConfig.resultPath || '', listed.id).toBe(resultPath);
  expect(listed.pollConfig.errorPath || null, listed.id).toBe(errorPath);
  // Presets forward the task's auth headers by default.
  expect(listed.pollConfig.forwardAuth, listed.id).toBe(true);
  if (!('resultUrlTemplate' in row)) expect(listed.pollConfig.resultUrlTemplate ?? null, listed.id).toBeNull();
}

let t: TestApp;
let overridden: TestApp;
let team: TestTeam;

beforeAll(async () => {
  [t, overridden] = await Promise.all([
    startTestApp(),
    startTestApp({
      ASYNCQUEUE_PROVIDER_BASE_URLS: JSON.stringify({
        replicate: 'http://127.0.0.1:9999',
        runwayml: 'http://127.0.0.1:9998/',
      }),
    }),
  ]);
  team = await overridden.newTeam();
});
afterAll(async () => {
  await t?.stop();
  await overridden?.stop();
});

describe('GET /v1/providers', () => {
  it('answers without an API key, with exactly the six presets of the preset table', async () => {
    const res = await api(t.url, 'GET', '/v1/providers');
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body)).toEqual(['providers']);
    const providers = res.body.providers as Listed[];
    expect(providers.map((p) => p.id)).toEqual([
      'fal',
      'replicate',
      'runwayml',
      'luma',
      'elevenlabs-dubbing',
      'stability-video',
    ]);
    for (const p of providers) {
      expect(Object.keys(p).sort(), p.id).toEqual(['description', 'id', 'name', 'pollConfig']);
      expect(p.name.length, p.id).toBeGreaterThan(0);
      expect(p.description.length, p.id).toBeGreaterThan(0);
      expectPreset(p, TABLE[p.id as keyof typeof TABLE]);
    }
    // The presets' fixed poll headers.
    const byId = Object.fromEntries(providers.map((p) => [p.id, p]));
    expect(byId.runwayml?.pollConfig.headers).toEqual({ 'X-Runway-Version': '2024-11-06' });
    expect(byId['stability-video']?.pollConfig.headers).toEqual({ Accept: 'application/json' });
  });

  it('ignores an invalid API key (the route is public)', async () => {
    const res = await api(t.url, 'GET', '/v1/providers', { key: `async_${'Z'.repeat(48)}` });
    expect(res.status).toBe(200);
    expect(res.body.providers).toHaveLength(6);
  });

  it('shows the effective URLs after ASYNCQUEUE_PROVIDER_BASE_URLS', async () => {
    const res = await api(overridden.url, 'GET', '/v1/providers');
    expect(res.status).toBe(200);
    const byId = Object.fromEntries((res.body.providers as Listed[]).map((p) => [p.id, p]));
    expect(byId.replicate?.pollConfig.urlTemplate).toBe('http://127.0.0.1:9999/v1/predictions/{startResult.body.id}');
    // A trailing slash on the configured origin does not double the path separator.
    expect(byId.runwayml?.pollConfig.urlTemplate).toBe('http://127.0.0.1:9998/v1/tasks/{startResult.body.id}');
    for (const id of ['fal', 'luma', 'elevenlabs-dubbing', 'stability-video'] as const) {
      expect(byId[id]?.pollConfig.urlTemplate, id).toBe(TABLE[id].urlTemplate);
    }
    // Everything else is unchanged.
    expectPreset(byId.replicate as Listed, {
      ...TABLE.replicate,
      urlTemplate: 'http://127.0.0.1:9999/v1/predictions/{startResult.body.id}',
    });
  });

  it('a task with provider runwayml shows the expanded pollConfig with the effective URL', async () => {
    const res = await api(overridden.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: {
        targetUrl: 'https://api.dev.runwayml.com/v1/image_to_video',
        headers: { Authorization: 'Bearer key_x', 'X-Runway-Version': '2024-11-06' },
        body: '{"model":"gen4_turbo"}',
        provider: 'runwayml',
        // Stays delayed: this test reads the task, it never dispatches it.
        delayUntil: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    expect(res.status, res.text).toBe(201);
    const expected = {
      ...TABLE.runwayml,
      urlTemplate: 'http://127.0.0.1:9998/v1/tasks/{startResult.body.id}',
    };
    expect(res.body.task.provider).toBe('runwayml');
    expectPreset(res.body.task, expected);
    const got = await api(overridden.url, 'GET', `/v1/tasks/${res.body.task.id}`, { key: team.apiKey });
    expect(got.status).toBe(200);
    expect(got.body.task.provider).toBe('runwayml');
    expect(got.body.task.status).toBe('delayed');
    expectPreset(got.body.task, expected);
    expect(got.body.task.pollConfig.headers).toEqual({ 'X-Runway-Version': '2024-11-06' });
  });
});
