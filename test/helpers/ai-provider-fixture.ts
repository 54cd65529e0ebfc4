import { afterAll, beforeAll, expect } from 'vitest';
import { type FakeAiProviders, type JobControl, jobControl, startFakeAiProviders } from './fake-ai-providers.ts';
import { filledByBeforeAll } from './fixture-state.ts';
import { api } from './http.ts';
import { startTestApp, type TestApp, type TestTeam } from './test-app.ts';
import { waitFor } from './wait-for.ts';
import { type Delivery, startWebhookSink, type WebhookSink } from './webhook-sink.ts';

type Parts = {
  /** The fake AI providers; the app's preset base URLs point at them. */
  fake: FakeAiProviders;
  /** The in-process server, started with the file's env overrides. */
  t: TestApp;
  team: TestTeam;
  /** A webhook receiver verifying with `team`'s secret. */
  sink: WebhookSink;
  /** Backdates and inspects the app's pg-boss jobs (poll now, expire now, …). */
  jobs: JobControl;
};

export type AiProviderFixture = Readonly<Parts> & {
  /** GET /v1/tasks/:id with `team`'s key; asserts the 200. */
  getTask(id: string): Promise<any>;
  /** Waits for the task's webhook, checks it against `expected`, and that it is the only one (delivered and queued). */
  expectOneWebhook(taskId: string, expected: Partial<Delivery>): Promise<Delivery>;
};

/**
 * Registers beforeAll/afterAll for a file driving tasks against the fake AI providers: the fakes, a
 * test app whose provider presets target them (plus `env`), one team, a webhook sink and pg-boss
 * job control. The returned context is filled in by beforeAll: read its fields inside tests.
 */
export function useAiProviderFixture(env: Record<string, string>): AiProviderFixture {
  const state: Partial<Parts> = {};
  beforeAll(async () => {
    const fake = await startFakeAiProviders();
    state.fake = fake;
    const t = await startTestApp({ ASYNCQUEUE_PROVIDER_BASE_URLS: fake.baseUrlsEnv, ...env });
    state.t = t;
    const team = await t.newTeam();
    state.team = team;
    state.sink = await startWebhookSink(() => team.webhookSecret);
    state.jobs = jobControl(t.app.orm);
  });
  afterAll(async () => {
    await state.t?.stop();
    await state.fake?.stop();
    await state.sink?.stop();
  });

  const parts = filledByBeforeAll('AI provider fixture', state, ['fake', 't', 'team', 'sink', 'jobs']);
  return Object.assign(parts, {
    async getTask(id: string) {
      const res = await api(parts.t.url, 'GET', `/v1/tasks/${id}`, { key: parts.team.apiKey });
      expect(res.status, res.text).toBe(200);
      return res.body.task;
    },
    async expectOneWebhook(taskId: string, expected: Partial<Delivery>) {
      const delivery = await waitFor(`webhook for ${taskId}`, () => parts.sink.forTask(taskId)[0]);
      expect(delivery).toMatchObject(expected);
      expect(await parts.jobs.count('webhook', taskId)).toBe(1);
      expect(parts.sink.forTask(taskId)).toHaveLength(1);
      return delivery;
    },
  });
}
