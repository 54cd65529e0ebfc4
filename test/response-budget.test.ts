import v8 from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../server/src/config/config.ts';
import { createByteBudget } from '../server/src/dispatch/byte-budget.ts';
import { createHttpCaller, RESPONSE_EXPANSION_FACTOR } from '../server/src/dispatch/http-caller.ts';
import { parseAllowedCidrs } from '../server/src/dispatch/network-guard.ts';
import type { OutboundResult } from '../server/src/dispatch/outbound-types.ts';
import {
  controlCharacters,
  type FakeBinaryProviders,
  startFakeBinaryProviders,
} from './helpers/fake-binary-providers.ts';
import { api } from './helpers/http.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { startTestApp } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

// Responses in flight are admitted by a byte budget: 24 tasks answering 5 MiB each, read and
// encoded at once, used to take the server down (OOM). Past its free prefix a body reserves its
// worst case and waits for room; the reservation is given back once the attempt is recorded.

const SIZE = 256 * 1024;
/** Room for one response's reservation but not two. */
const BUDGET = Math.floor(1.5 * SIZE * RESPONSE_EXPANSION_FACTOR);

let fake: FakeBinaryProviders;
beforeAll(async () => {
  fake = await startFakeBinaryProviders();
});
afterAll(async () => {
  await fake?.stop();
});

describe('ASYNCQUEUE_RESPONSE_MEMORY_BYTES', () => {
  it('defaults to half the V8 heap limit and can be set', () => {
    expect(loadConfig({}).responseMemoryBytes).toBe(Math.floor(v8.getHeapStatistics().heap_size_limit / 2));
    expect(loadConfig({ ASYNCQUEUE_RESPONSE_MEMORY_BYTES: '1048576' }).responseMemoryBytes).toBe(1048576);
    expect(() => loadConfig({ ASYNCQUEUE_RESPONSE_MEMORY_BYTES: '0' })).toThrow(/ASYNCQUEUE_RESPONSE_MEMORY_BYTES/);
  });
});

describe('response byte budget', () => {
  it('holds only one big response at a time when the budget is smaller than two; the second reads once the first is released', async () => {
    const budget = createByteBudget(BUDGET);
    const caller = createHttpCaller({ allowed: parseAllowedCidrs('127.0.0.0/8'), budget });
    const call = () =>
      caller.call({
        url: fake.url(`/bytes?size=${SIZE}`),
        method: 'GET',
        headers: {},
        body: null,
        timeoutMs: 10_000,
        maxResponseBytes: 5 * 1024 * 1024,
      });
    try {
      const first = await call();
      expect(budget.inUse()).toBe(SIZE * RESPONSE_EXPANSION_FACTOR);
      let second: OutboundResult | null = null;
      const pending = call().then((r) => {
        second = r;
        return r;
      });
      await waitFor('the second response waiting for room', () => budget.waiting() === 1);
      expect(second).toBeNull();
      if (first.ok) first.response.release();
      const done = await pending;
      expect(done.ok && done.response.body.length).toBe(SIZE);
      if (done.ok) done.response.release();
      expect(budget.inUse()).toBe(0);
    } finally {
      await caller.close();
    }
  });

  it('completes every task with its whole body when the budget fits one big response at a time', async () => {
    const t = await startTestApp({ ASYNCQUEUE_RESPONSE_MEMORY_BYTES: String(BUDGET) });
    try {
      const team = await t.newTeam();
      const ids: string[] = [];
      for (let i = 0; i < 6; i += 1) {
        const res = await api(t.url, 'POST', '/v1/tasks', {
          key: team.apiKey,
          body: { targetUrl: fake.url(`/bytes?size=${SIZE}`), method: 'GET', maxRetries: 0 },
        });
        expect(res.status, res.text).toBe(201);
        ids.push(res.body.task.id);
      }
      const expected = controlCharacters(SIZE).toString('utf8');
      for (const id of ids) {
        const done = await waitForStatus(t.url, team.apiKey, id, 'completed', 30_000);
        expect(done.result.body === expected).toBe(true);
        expect(done.attempts).toHaveLength(1);
      }
    } finally {
      await t.stop();
    }
  });
});
