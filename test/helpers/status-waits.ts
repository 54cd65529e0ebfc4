import { api } from './http.ts';

/**
 * Waits until a task is in `status`, also a non-terminal one (`waiting`, `processing`). Unlike
 * waitForStatus (task-waits.ts) it never parks on a task that is already there: GET ?wait answers
 * "as soon as the status changes", so a long-poll started after the task reached `waiting` holds
 * for its whole wait. Here a plain GET comes first, and the long-poll is short (1 s), which bounds
 * that blind spot when the change lands between the two requests.
 */
export async function waitForCurrentStatus(
  baseUrl: string,
  key: string,
  id: string,
  status: string,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (let round = 0; ; round += 1) {
    const wait = round % 2 === 0 ? 0 : 1;
    const res = await api(baseUrl, 'GET', `/v1/tasks/${id}?wait=${wait}`, { key });
    if (res.status !== 200) throw new Error(`GET task ${id} answered ${res.status}: ${res.text}`);
    last = res.body.task.status;
    if (last === status) return res.body.task;
    if (Date.now() > deadline) throw new Error(`task ${id} is ${last}, not ${status} after ${timeoutMs} ms`);
  }
}
