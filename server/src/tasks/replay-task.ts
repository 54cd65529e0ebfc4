import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../db/entities/task.ts';
import { dispatchGroup } from '../jobs/queues.ts';
import { AppError, validationError } from '../shared/app-error.ts';
import { type CreateDeps, type CreateTaskResponse, dispatchJobOptions } from './create-task.ts';
import { taskInsert } from './store/insert.ts';
import { findTeamTask } from './store/read.ts';
import { markReplayed } from './store/replay.ts';
import type { CreateTaskInput } from './task-input-schema.ts';
import { buildTaskRow } from './task-row.ts';
import { isTerminal } from './task-status.ts';
import type { HttpMethod } from './task-types.ts';
import { toTaskView } from './task-view.ts';

/** The request a task was created with, as a create input (vault references as stored: references). */
export function requestOf(task: Task): CreateTaskInput {
  return {
    targetUrl: task.targetUrl,
    method: task.method as HttpMethod,
    headers: task.headers,
    body: task.body ?? null,
    timeout: task.timeout,
    maxRetries: task.maxRetries,
    retryBackoff: task.retryBackoff,
    delayUntil: task.delayUntil ? new Date(task.delayUntil).toISOString() : null,
    priority: task.priority,
    waitForSignal: task.waitForSignal,
    maxWaitTime: task.maxWaitTime,
    onCompleteUrl: task.onCompleteUrl ?? null,
    provider: task.provider ?? null,
    // The same limits as the original: its key, or none (null), never the preset default again.
    flowKey: task.flowKey ?? null,
    // A preset's polling is expanded again from the preset (with today's base URLs).
    pollConfig: task.provider ? null : (task.pollConfig as CreateTaskInput['pollConfig']),
    idempotencyKey: null,
  };
}

/**
 * A new task with the same request as an ended one, `replayOf` naming it: fresh id, callback id and
 * signal token (answered as a create answers them), nothing of what happened to the original.
 * A task not yet ended → 409; a vault token the request names that was deleted since → 400.
 */
export async function replayTask(
  em: EntityManager,
  deps: CreateDeps,
  teamId: string,
  id: string,
): Promise<CreateTaskResponse> {
  const original = await findTeamTask(em, teamId, id);
  if (!original) throw new AppError('not_found', `Task ${id} not found`);
  if (!isTerminal(original.status)) {
    throw new AppError(
      'conflict',
      `Task is ${original.status}: only an ended task (completed, failed, timeout, cancelled) can be replayed; wait for it or cancel it first`,
    );
  }
  const input = requestOf(original);
  const missing = await deps.missingVaultReferences(em, teamId, input.headers);
  if (missing.length > 0) throw validationError(missing);
  const { row, callbackId, signalToken } = buildTaskRow(teamId, input, {
    providerBaseUrls: deps.providerBaseUrls,
    idempotencyKey: null,
    now: new Date(),
    secretBox: deps.secretBox,
    replayOf: original.id,
  });
  const body: CreateTaskResponse = { task: { ...toTaskView(row), callbackId } };
  if (callbackId) body.callbackUrl = `${deps.publicUrl}/v1/callbacks/${callbackId}`;
  if (signalToken) body.signalToken = signalToken;
  await em.transactional(async (tem) => {
    // Terminal stays terminal: this only fails if the original was deleted meanwhile (retention).
    if (!(await markReplayed(tem, teamId, original.id))) throw new AppError('not_found', `Task ${id} not found`);
    const job = {
      id: row.dispatchJobId as string,
      group: dispatchGroup(teamId, row.flowKey),
      ...dispatchJobOptions(row.priority, row.delayUntil ?? null),
    };
    await deps.enqueue(tem, 'dispatch', { taskId: row.id }, job, (first) => taskInsert(row, first));
  });
  deps.onCreated?.(row.id);
  if (row.status === 'pending') deps.onDispatchDue?.();
  return body;
}
