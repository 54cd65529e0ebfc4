import { useEffect, useState } from 'preact/hooks';
import { call, pretty, shortTime, type Task, TERMINAL } from './api.ts';
import { Code } from './code.tsx';
import { subscribeTasks, watchTask } from './live.ts';
import { TaskActions } from './task-actions.tsx';
import { Attempts, Deliveries, QueuePosition, ResultView } from './task-parts.tsx';

/** One task: its state, actions, request, attempts, result, progress and webhook deliveries, kept live. */
export function TaskPage(props: { id: string }) {
  const [task, setTask] = useState<Task | null>(null);
  const [error, setError] = useState('');
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

  if (error) {
    return (
      <p class="error" role="alert">
        {error}
      </p>
    );
  }
  if (!task) return <p>Loading…</p>;
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
        {task.cancelRequested && !TERMINAL.has(task.status) && ' (cancel requested)'} · created{' '}
        {shortTime(task.createdAt)} · updated {shortTime(task.updatedAt)}
      </p>
      <TaskActions task={task} show={setTask} />
      <QueuePosition task={task} />
      {task.error && <p class="error">Error: {task.error}</p>}
      <RequestView task={task} />
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

function RequestView(props: { task: Task }) {
  const { task } = props;
  return (
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
  );
}
