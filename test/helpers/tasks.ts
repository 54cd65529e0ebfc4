import { expect } from 'vitest';
import { type ApiResponse, api } from './http.ts';

/** The fields of the task object the API returns (201, GET, list), exactly (see openapi/openapi.json). */
export const TASK_KEYS = [
  'id',
  'status',
  'targetUrl',
  'method',
  'headers',
  'body',
  'timeout',
  'maxRetries',
  'retryBackoff',
  'delayUntil',
  'priority',
  'waitForSignal',
  'maxWaitTime',
  'onCompleteUrl',
  'provider',
  'pollConfig',
  'hasCallback',
  'result',
  'error',
  'progress',
  'retryCount',
  'attempts',
  'webhookDeliveries',
  'cancelRequested',
  'createdAt',
  'updatedAt',
  'startedAt',
  'completedAt',
  'replayOf',
  'flowKey',
].sort();

/** The task object of a 201: the task keys plus `callbackId`. */
export const CREATED_TASK_KEYS = [...TASK_KEYS, 'callbackId'].sort();

export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const HEX_64 = /^[0-9a-f]{64}$/;

/** A minimal valid task; the target is never reached in tests that only create. */
export const BASE_TASK = { targetUrl: 'https://example.com/hook', body: '{}' };

/** A task the workers leave alone for an hour: status `delayed`, cancellable. */
export const delayedTask = (n = 0) => ({
  targetUrl: `https://example.com/hook/${n}`,
  body: JSON.stringify({ n }),
  delayUntil: new Date(Date.now() + 3_600_000).toISOString(),
});

/** How many tasks the team can see (GET /v1/tasks, one page of up to 100). */
export async function countTasks(url: string, key: string): Promise<number> {
  const res = await api(url, 'GET', '/v1/tasks?limit=100', { key });
  expect(res.status).toBe(200);
  expect(res.body.pagination.hasMore).toBe(false);
  return res.body.tasks.length;
}

export async function createTask(url: string, key: string, body: unknown, headers?: Record<string, string>) {
  const res = await api(url, 'POST', '/v1/tasks', { key, body, ...(headers ? { headers } : {}) });
  expect(res.status, res.text).toBe(201);
  return res;
}

/** Asserts the API's error body: exactly `{error, code, details?}`, details `[{path, message}]`. */
export function expectErrorBody(res: ApiResponse, status: number, code?: string): void {
  expect(res.status, res.text).toBe(status);
  expect(typeof res.body).toBe('object');
  expect(Object.keys(res.body).filter((k) => !['error', 'code', 'details'].includes(k))).toEqual([]);
  expect(typeof res.body.error).toBe('string');
  expect(res.body.error.length).toBeGreaterThan(0);
  expect(typeof res.body.code).toBe('string');
  if (code) expect(res.body.code).toBe(code);
  if ('details' in res.body) {
    expect(Array.isArray(res.body.details)).toBe(true);
    for (const detail of res.body.details) {
      expect(Object.keys(detail).sort()).toEqual(['message', 'path']);
      expect(typeof detail.path).toBe('string');
      expect(typeof detail.message).toBe('string');
    }
  }
}

/** The `path`s of a validation error's details. */
export function detailPaths(res: ApiResponse): string[] {
  return ((res.body?.details ?? []) as { path: string }[]).map((d) => d.path);
}
