import type { Task } from '../db/entities/task.ts';
import { maskHeaders } from './header-masking.ts';
import type {
  AttemptRecord,
  HttpMethod,
  PollConfig,
  TaskResult,
  TaskStatus,
  WebhookDeliveryRecord,
} from './task-types.ts';

/** The task as every API response and webhook shows it. Absent values are null, never missing. */
export type TaskView = {
  id: string;
  status: TaskStatus;
  targetUrl: string;
  method: HttpMethod;
  headers: Record<string, string>;
  body: string | null;
  timeout: number;
  maxRetries: number;
  retryBackoff: 'exponential' | 'linear';
  delayUntil: string | null;
  priority: number;
  waitForSignal: boolean;
  maxWaitTime: number;
  onCompleteUrl: string | null;
  provider: string | null;
  pollConfig: PollConfig | null;
  hasCallback: boolean;
  result: TaskResult | null;
  error: string | null;
  progress: unknown;
  retryCount: number;
  attempts: AttemptRecord[];
  webhookDeliveries: WebhookDeliveryRecord[];
  cancelRequested: boolean;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  /** The id of the task this one replays, or null. */
  replayOf: string | null;
  flowKey: string | null;
};

/** The last instant formatted: the rows of a batch share their created and updated instants. */
let lastIso = { time: Number.NaN, text: '' };
function iso(d: Date | null | undefined): string | null {
  if (!d) return null;
  const time = d instanceof Date ? d.getTime() : new Date(d).getTime();
  if (time !== lastIso.time) lastIso = { time, text: new Date(time).toISOString() };
  return lastIso.text;
}

/** Progress is stored as JSON text (see storable-text.ts); a list leaves out a big one (null). */
function parsedProgress(text: string | null | undefined): unknown {
  return text == null ? null : JSON.parse(text);
}

export function toTaskView(task: Task): TaskView {
  return {
    id: task.id,
    status: task.status,
    targetUrl: task.targetUrl,
    method: task.method as HttpMethod,
    headers: maskHeaders(task.headers),
    body: task.body ?? null,
    timeout: task.timeout,
    maxRetries: task.maxRetries,
    retryBackoff: task.retryBackoff,
    delayUntil: iso(task.delayUntil),
    priority: task.priority,
    waitForSignal: task.waitForSignal,
    maxWaitTime: task.maxWaitTime,
    onCompleteUrl: task.onCompleteUrl ?? null,
    provider: task.provider ?? null,
    pollConfig: task.pollConfig ?? null,
    hasCallback: task.callbackIdHash != null,
    result: task.result ?? null,
    error: task.error ?? null,
    progress: parsedProgress(task.progress),
    retryCount: task.retryCount,
    attempts: task.attempts ?? [],
    webhookDeliveries: task.webhookDeliveries ?? [],
    cancelRequested: task.cancelRequested,
    createdAt: iso(task.createdAt) as string,
    updatedAt: iso(task.updatedAt) as string,
    startedAt: iso(task.startedAt),
    completedAt: iso(task.completedAt),
    replayOf: task.replayOf ?? null,
    flowKey: task.flowKey ?? null,
  };
}
