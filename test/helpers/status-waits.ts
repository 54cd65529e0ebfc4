import { api } from './http.ts';

/**
 * Waits until a task is in `status`, also a non-terminal one (`waiting`, `processing`). GET ?wait
 * answers on the next status *change*, so a long-poll that starts just after the task got there
 * holds for its whole wait; waitForStatus (task-waits.ts) looks first but then long-polls 5 s at a
 * time. Here plain GETs alternate with 1 s long-polls, which bounds that blind spot to 1 s.
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
