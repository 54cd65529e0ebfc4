import { expect } from 'vitest';
import { api } from './http.ts';

/**
 * Waits for a task to reach `status` with the product's own long-poll (GET ?wait=), so a test
 * neither sleeps nor burns the team's rate limit on tight polling.
 */
export async function waitForStatus(
  baseUrl: string,
  key: string,
  id: string,
  status: string | string[],
  timeoutMs = 20_000,
) {
  const wanted = Array.isArray(status) ? status : [status];
  const deadline = Date.now() + timeoutMs;
  let last = '';
  // A long-poll returns on the next *change*: look at the current status first, then long-poll.
  for (let round = 0; ; round += 1) {
    const remaining = Math.ceil((deadline - Date.now()) / 1000);
    const wait = round === 0 ? 0 : Math.max(0, Math.min(5, remaining));
    const res = await api(baseUrl, 'GET', `/v1/tasks/${id}?wait=${wait}`, { key });
    if (res.status !== 200) throw new Error(`GET task ${id} answered ${res.status}: ${res.text}`);
    last = res.body.task.status;
    if (wanted.includes(last)) return res.body.task;
    if (Date.now() > deadline) throw new Error(`task ${id} is ${last}, not ${wanted.join('/')} after ${timeoutMs} ms`);
  }
}

/**
 * Creates a task whose target gets its callback URL in a header, and returns once it waits for the
 * callback: its id and the callback URL's path.
 */
export async function createWaitingCallbackTask(baseUrl: string, apiKey: string, targetUrl: string) {
  const created = await api(baseUrl, 'POST', '/v1/tasks', {
    key: apiKey,
    body: { targetUrl, headers: { 'X-Callback': '{asyncqueue_callback_url}' } },
  });
  expect(created.status).toBe(201);
  await waitForStatus(baseUrl, apiKey, created.body.task.id, 'waiting');
  return { id: created.body.task.id as string, path: new URL(created.body.callbackUrl).pathname };
}
