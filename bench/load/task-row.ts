/**
 * The rows the SQL ceilings write, shaped as the server writes them: the task INSERT with the
 * server's column list, pg-boss's job payload, and the CPU counter of the process issuing the SQL.
 */
export const SCHEMA = 'pgboss';
export const QUEUE = 'dispatch';

/** The columns MikroORM writes for a new task (server/src/tasks/create-task.ts → tem.insert). */
export const TASK_COLUMNS = [
  'id',
  'team_id',
  'status',
  'target_url',
  'method',
  'headers',
  'body',
  'timeout',
  'max_retries',
  'retry_backoff',
  'delay_until',
  'priority',
  'wait_for_signal',
  'max_wait_time',
  'on_complete_url',
  'provider',
  'poll_config',
  'callback_id',
  'callback_consumed',
  'signal_token_hash',
  'signal_consumed',
  'start_result',
  'result',
  'error',
  'progress',
  'retry_count',
  'attempts',
  'webhook_deliveries',
  'dispatch_job_id',
  'dispatch_lease',
  'cancel_requested',
  'idempotency_key',
  'created_at',
  'updated_at',
  'started_at',
  'completed_at',
  'deadline_at',
];
/** The server's task INSERT on `table` (the breakdown runs it on a copy of `tasks`). */
export const insertTaskInto = (table: string) =>
  `insert into "${table}" (${TASK_COLUMNS.map((c) => `"${c}"`).join(', ')}) values (${TASK_COLUMNS.map(
    (_, i) => `$${i + 1}`,
  ).join(', ')}) returning "callback_consumed", "signal_consumed", "retry_count", "cancel_requested"`;
export const INSERT_TASK = insertTaskInto('tasks');

export type TaskShape = { targetUrl: string; headers: Record<string, string>; body: string | null };

export function taskValues(id: string, jobId: string, teamId: string, shape: TaskShape): unknown[] {
  const now = new Date();
  const byColumn: Record<string, unknown> = {
    id,
    team_id: teamId,
    status: 'pending',
    target_url: shape.targetUrl,
    method: 'POST',
    headers: JSON.stringify(shape.headers),
    body: shape.body,
    timeout: 30,
    max_retries: 3,
    retry_backoff: 'exponential',
    priority: 5,
    wait_for_signal: false,
    max_wait_time: 300,
    callback_consumed: false,
    signal_consumed: false,
    retry_count: 0,
    attempts: '[]',
    webhook_deliveries: '[]',
    dispatch_job_id: jobId,
    cancel_requested: false,
    created_at: now,
    updated_at: now,
  };
  return TASK_COLUMNS.map((c) => byColumn[c] ?? null);
}

/** The job object pg-boss's send() serializes (manager.#toJobPayload) for `{ id, priority }`. */
export function jobPayload(jobId: string, taskId: string) {
  return {
    id: jobId,
    name: QUEUE,
    data: { taskId },
    priority: 5,
    singletonKey: null,
    singletonOffset: 0,
    groupId: null,
    groupTier: null,
    deadLetter: null,
  };
}

/** CPU (user + system) this process used since `start`, in ms: the client side of the ceiling. */
export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

export function columnType(column: string): string {
  if (['id', 'team_id', 'dispatch_job_id'].includes(column)) return 'uuid';
  if (
    ['headers', 'poll_config', 'start_result', 'result', 'progress', 'attempts', 'webhook_deliveries'].includes(column)
  )
    return 'jsonb';
  if (['timeout', 'max_retries', 'priority', 'max_wait_time', 'retry_count', 'dispatch_lease'].includes(column))
    return 'int';
  if (['wait_for_signal', 'callback_consumed', 'signal_consumed', 'cancel_requested'].includes(column))
    return 'boolean';
  if (column.endsWith('_at') || column === 'delay_until') return 'timestamptz';
  return 'text';
}
