import { afterAll, beforeAll, expect } from 'vitest';
import { type FakeBinaryProviders, startFakeBinaryProviders } from './fake-binary-providers.ts';
import { filledByBeforeAll } from './fixture-state.ts';
import { api } from './http.ts';
import type { CreatedTask } from './lifecycle-fixture.ts';
import { waitForStatus } from './task-waits.ts';
import { startTestApp, type TestApp, type TestTeam } from './test-app.ts';

type Parts = {
  /** The fake providers answering bytes (audio, images, control characters) and polled jobs. */
  fake: FakeBinaryProviders;
  /** The in-process server; Replicate's preset base URL points at `fake`. */
  t: TestApp;
  team: TestTeam;
};

export type BinaryProvidersFixture = Readonly<Parts> & {
  /** POST /v1/tasks with `team`'s key; asserts the 201. */
  create(body: Record<string, unknown>): Promise<CreatedTask>;
  /** Waits (long-polling) until the task has `status`, up to `timeoutMs` (waitForStatus's default unless given). */
  until(id: string, status: string, timeoutMs?: number): Promise<any>;
  /**
   * A Replicate task (callback + the preset's polling) whose dispatch starts the fake's job `jobId`,
   * once it is polling: its callback URL then takes the provider's progress callbacks.
   */
  pollingReplicateTask(jobId: string, timeoutMs?: number): Promise<{ taskId: string; callbackUrl: string }>;
};

/**
 * Registers beforeAll/afterAll for a file driving tasks against test/helpers/fake-binary-providers.ts:
 * the fakes, a test app whose Replicate preset targets them (its fixed poll URL answers 404 there,
 * so a Replicate task stays quiet while polling), and one team. Read the fields inside tests.
 */
export function useBinaryProvidersFixture(): BinaryProvidersFixture {
  const state: Partial<Parts> = {};
  beforeAll(async () => {
    const fake = await startFakeBinaryProviders();
    state.fake = fake;
    const t = await startTestApp({ ASYNCQUEUE_PROVIDER_BASE_URLS: JSON.stringify({ replicate: fake.url('') }) });
    state.t = t;
    state.team = await t.newTeam();
  });
  afterAll(async () => {
    await state.t?.stop();
    await state.fake?.stop();
  });

  const parts = filledByBeforeAll('binary providers fixture', state, ['fake', 't', 'team']);
  const create = async (body: Record<string, unknown>) => {
    const res = await api(parts.t.url, 'POST', '/v1/tasks', { key: parts.team.apiKey, body });
    expect(res.status, res.text).toBe(201);
    return res.body as CreatedTask;
  };
  const until = (id: string, status: string, timeoutMs?: number) =>
    waitForStatus(parts.t.url, parts.team.apiKey, id, status, timeoutMs);
  const pollingReplicateTask = async (jobId: string, timeoutMs?: number) => {
    const { task, callbackUrl } = await create({
      targetUrl: parts.fake.url(`/jobs?id=${jobId}`),
      provider: 'replicate',
      headers: { Authorization: 'Bearer r8-test' },
      body: '{"webhook":"{asyncqueue_callback_url}"}',
    });
    await until(task.id, 'polling', timeoutMs);
    return { taskId: task.id, callbackUrl: callbackUrl as string };
  };
  return Object.assign(parts, { create, until, pollingReplicateTask });
}
