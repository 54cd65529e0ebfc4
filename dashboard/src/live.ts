import { call, query, type Task, TERMINAL } from './api.ts';

/**
 * Why 1 s: when the server has no event stream (older version), the open page re-reads instead,
 * often enough that a change shows within about a second, at one indexed request a second.
 */
const FALLBACK_POLL_MS = 1000;

/**
 * Calls `onTask` with every change of the team's tasks (optionally one task or one status), from
 * the server's event stream (GET /v1/events, authenticated by the session cookie). If the stream is
 * not there, `refresh` is called every second instead. Returns the function that stops it.
 */
export function subscribeTasks(
  filter: { taskId?: string; status?: string },
  onTask: (task: Task) => void,
  refresh: () => void,
): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  const source = new EventSource(`/v1/events${query(filter)}`);
  source.addEventListener('task.updated', (event) => {
    const data = JSON.parse((event as MessageEvent<string>).data) as { task: Task };
    onTask(data.task);
  });
  source.addEventListener('error', () => {
    // A closed stream (404, 401) is not retried by the browser: poll instead.
    if (source.readyState === EventSource.CLOSED && !stopped && timer === undefined) {
      timer = setInterval(refresh, FALLBACK_POLL_MS);
    }
  });
  return () => {
    stopped = true;
    source.close();
    if (timer !== undefined) clearInterval(timer);
  };
}

/**
 * Long-polls one task (GET /v1/tasks/:id?wait=25) until stopped or ended: each status change
 * arrives at once. An ended task answers at once, so the loop stops there (the event stream still
 * brings its later webhook deliveries).
 */
export function watchTask(id: string, onTask: (task: Task) => void): () => void {
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      try {
        const { task } = await call<{ task: Task }>('GET', `/v1/tasks/${id}?wait=25`);
        if (!stopped) onTask(task);
        if (TERMINAL.has(task.status)) return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, FALLBACK_POLL_MS));
      }
    }
  };
  void loop();
  return () => {
    stopped = true;
  };
}
