import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, pretty, shortTime, type Task, TERMINAL } from './api.ts';
import { Code } from './code.tsx';
import { subscribeTasks, watchTask } from './live.ts';
import { Attempts, Deliveries, QueuePosition, ResultView } from './task-parts.tsx';

/** One task: its state, actions, request, attempts, result, progress and webhook deliveries, kept live. */
export function TaskPage(props: { id: string }) {
  const [task, setTask] = useState<Task | null>(null);
  const [error, setError] = useState('');
  const [message, setMessage] = useState('');
  const load = () =>
    call<{ task: Task }>('GET', `/v1/tasks/${props.id}`)
      .then(({ task }) => setTask(task))
      .catch((caught: unknown) => setError((caught as Error).message));
  useEffect(() => {
    void load();
    // An event carries the list shape (payloads capped): it only says when to read the whole task.
    const stopEvents = subscribeTasks(
      { taskId: props.id },
      () => void load(),
      () => void load(),
    );
    const stopWatch = watchTask(props.id, setTask);
    return () => {
      stopEvents();
      stopWatch();
    };
  }, [props.id]);

  const act = async (label: string, path: string, after: (body: { task: Task }) => void) => {
    try {
      after(await call<{ task: Task }>('POST', path));
      setMessage(`${label}: done.`);
    } catch (caught) {
      setMessage(
        caught instanceof ApiError && caught.status === 404 && label === 'Replay'
          ? 'Replay needs a server with POST /v1/tasks/{id}/replay.'
          : `${label} failed: ${(caught as Error).message}`,
      );
    }
  };
  if (error) {
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  }
  if (!task) return <p>Loading…</p>;
  const ended = TERMINAL.has(task.status);
  return (
    <>
      <h1>
        Task <span class="mono">{task.id}</span>
      </h1>
      <p>
        Status:{' '}
        <span class={`status ${task.status}`} data-testid="task-status">
          {task.status}
        </span>
        {task.cancelRequested && !ended && ' (cancel requested)'} · created {shortTime(task.createdAt)} · updated{' '}
        {shortTime(task.updatedAt)}
      </p>
      <div class="actions">
        {!ended && (
          <button
            type="button"
            onClick={() => void act('Cancel', `/v1/tasks/${task.id}/cancel`, (b) => setTask(b.task))}
          >
            Cancel
          </button>
        )}
        {ended && (
          <button
            type="button"
            onClick={() =>
              void act('Replay', `/v1/tasks/${task.id}/replay`, (b) => {
                location.hash = `#/tasks/${b.task.id}`;
              })
            }
          >
            Replay
          </button>
        )}
        {ended && task.status !== 'cancelled' && task.onCompleteUrl && (
          <button
            type="button"
            onClick={() =>
              void act('Redeliver', `/v1/tasks/${task.id}/webhook/redeliver`, (b) => {
                setTask(b.task);
                void awaitNewDelivery(b.task, setTask);
              })
            }
          >
            Redeliver webhook
          </button>
        )}
        {message && <span role="status">{message}</span>}
      </div>
      <QueuePosition task={task} />
      {task.error && <p class="error">Error: {task.error}</p>}
      <section aria-labelledby="request-h">
        <h2 id="request-h">Request</h2>
        <p class="mono">
          {task.method} {task.targetUrl}
        </p>
        <h3>Headers (secret values masked)</h3>
        <Code>{JSON.stringify(task.headers, null, 2)}</Code>
        {task.body && (
          <>
            <h3>Body</h3>
            <Code>{pretty(task.body)}</Code>
          </>
        )}
      </section>
      <Attempts task={task} />
      <ResultView task={task} />
      {task.progress != null && (
        <section aria-labelledby="progress-h">
          <h2 id="progress-h">Progress</h2>
          <Code>{JSON.stringify(task.progress, null, 2)}</Code>
        </section>
      )}
      <Deliveries task={task} />
    </>
  );
}

/** Why 1 s × 30: a redelivery is sent within seconds; its record is re-read until it shows, then no more. */
const DELIVERY_CHECK_MS = 1000;
const DELIVERY_CHECKS = 30;

/** Re-reads a task after a redelivery until its new delivery record appears (a status never changes for it). */
async function awaitNewDelivery(task: Task, show: (task: Task) => void): Promise<void> {
  for (let i = 0; i < DELIVERY_CHECKS; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, DELIVERY_CHECK_MS));
    const { task: fresh } = await call<{ task: Task }>('GET', `/v1/tasks/${task.id}`);
    show(fresh);
    if (fresh.webhookDeliveries.length > task.webhookDeliveries.length) return;
  }
}
