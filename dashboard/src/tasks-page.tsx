import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, query, shortTime, TASK_STATUSES, type Task } from './api.ts';
import { BulkActions, type TaskFilter } from './bulk-actions.tsx';
import { subscribeTasks } from './live.ts';

/** Why 50: a first screen and a bit more at 1280 × 800, in one indexed page read. */
const PAGE_SIZE = '50';

type Page = { tasks: Task[]; pagination: { hasMore: boolean; nextCursor: string | null } };

/** The team's tasks: counts by status, filters, search by id, rows kept current by the event stream. */
export function TasksPage() {
  const [filter, setFilter] = useState<TaskFilter>({});
  const [tasks, setTasks] = useState<Task[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState('');
  const filterRef = useRef(filter);
  filterRef.current = filter;

  const load = async (after?: string) => {
    try {
      const page = await call<Page>(
        'GET',
        `/v1/tasks${query({ ...filterRef.current, limit: PAGE_SIZE, cursor: after })}`,
      );
      setTasks((shown) => (after ? [...shown, ...page.tasks] : page.tasks));
      setCursor(page.pagination.hasMore ? page.pagination.nextCursor : null);
      setError('');
    } catch (caught) {
      setError((caught as Error).message);
    }
  };
  useEffect(() => {
    void load();
    const onTask = (task: Task) =>
      setTasks((shown) => {
        const at = shown.findIndex((t) => t.id === task.id);
        if (at >= 0) return shown.map((t) => (t.id === task.id ? task : t));
        return matches(task, filterRef.current) ? [task, ...shown] : shown;
      });
    return subscribeTasks({ status: filter.status }, onTask, () => void load());
  }, [filter]);

  return (
    <>
      <h1>Tasks</h1>
      <StatusCounts tasks={tasks} />
      <SearchById />
      <Filters filter={filter} onChange={setFilter} />
      <BulkActions filter={filter} onDone={() => void load()} />
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <TaskTable tasks={tasks} />
      {cursor && (
        <button type="button" onClick={() => void load(cursor)}>
          Load more
        </button>
      )}
    </>
  );
}

function matches(task: Task, filter: TaskFilter): boolean {
  if (filter.status && task.status !== filter.status) return false;
  if (filter.provider && task.provider !== filter.provider) return false;
  return true;
}

/** GET /v1/tasks/stats; a server without it shows a short note instead. Re-read when rows change. */
function StatusCounts(props: { tasks: Task[] }) {
  const [counts, setCounts] = useState<Record<string, number> | null>(null);
  const [missing, setMissing] = useState(false);
  const version = props.tasks.map((t) => t.status).join();
  useEffect(() => {
    if (missing) return;
    call<Record<string, unknown>>('GET', '/v1/tasks/stats')
      .then((body) => setCounts(countsOf(body)))
      .catch((caught: unknown) => setMissing(caught instanceof ApiError && caught.status === 404));
  }, [version]);
  if (missing) return <p class="muted">Counts by status need a server with GET /v1/tasks/stats.</p>;
  if (!counts) return null;
  return (
    <ul class="counts" aria-label="Tasks by status">
      {TASK_STATUSES.map((status) => (
        <li key={status}>
          <span class={`status ${status}`}>{status}</span> <strong>{counts[status] ?? 0}</strong>
        </li>
      ))}
    </ul>
  );
}

/** `{counts: {status: n}}` or `{status: n}`: the numbers by status, whichever way they come. */
function countsOf(body: Record<string, unknown>): Record<string, number> {
  const inner = (body.counts ?? body.stats ?? body) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(inner).filter(([, n]) => typeof n === 'number')) as Record<string, number>;
}

function SearchById() {
  const [error, setError] = useState('');
  const submit = (event: Event) => {
    event.preventDefault();
    const input = (event.currentTarget as HTMLFormElement).elements.namedItem('taskId') as HTMLInputElement;
    const id = input.value.trim().toLowerCase();
    if (!/^[0-9a-f-]{36}$/.test(id)) return setError('A task id is a UUID such as 0190…-…');
    setError('');
    location.hash = `#/tasks/${id}`;
  };
  return (
    <form class="inline" onSubmit={submit} aria-label="Find a task">
      <label for="taskId">Find a task by id</label>
      <input id="taskId" name="taskId" placeholder="task id" />
      <button type="submit">Open</button>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

function Filters(props: { filter: TaskFilter; onChange: (filter: TaskFilter) => void }) {
  const submit = (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const field = (name: string) => (data.get(name) as string | null)?.trim() || undefined;
    const date = (name: string) => {
      const value = field(name);
      return value ? new Date(value).toISOString() : undefined;
    };
    props.onChange({
      status: field('status'),
      provider: field('provider'),
      flowKey: field('flowKey'),
      createdAfter: date('createdAfter'),
      createdBefore: date('createdBefore'),
    });
  };
  return (
    <form class="filters" onSubmit={submit} aria-label="Filters">
      <label>
        Status
        <select name="status" aria-label="Status" value={props.filter.status ?? ''}>
          <option value="">any</option>
          {TASK_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label>
        Provider
        <input name="provider" />
      </label>
      <label>
        Flow key
        <input name="flowKey" />
      </label>
      <label>
        Created after
        <input name="createdAfter" type="datetime-local" />
      </label>
      <label>
        Created before
        <input name="createdBefore" type="datetime-local" />
      </label>
      <button type="submit">Apply filters</button>
    </form>
  );
}

function TaskTable(props: { tasks: Task[] }) {
  if (props.tasks.length === 0) return <p>No tasks match.</p>;
  return (
    <div class="scroll">
      <table class="tasks">
        <caption class="visually-hidden">Tasks, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Status</th>
            <th scope="col">Target</th>
            <th scope="col" class="wide">
              Attempts
            </th>
            <th scope="col" class="wide">
              Created
            </th>
          </tr>
        </thead>
        <tbody>
          {props.tasks.map((task) => (
            <tr key={task.id} data-task-id={task.id}>
              <td>
                <a href={`#/tasks/${task.id}`} class="mono">
                  {task.id}
                </a>
              </td>
              <td>
                <span class={`status ${task.status}`} data-status={task.status}>
                  {task.status}
                </span>
              </td>
              <td class="target">
                {task.method} {task.targetUrl}
              </td>
              <td class="wide">{task.attempts.length}</td>
              <td class="wide">{shortTime(task.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
