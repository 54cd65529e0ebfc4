import { randomUUID } from 'node:crypto';
import type { Task } from '../../db/entities/task.ts';
import type { OutboundRequest, OutboundResult } from '../../dispatch/http-caller.ts';
import { isRetryableStatus } from '../../dispatch/outcome.ts';
import { fillTemplate, TemplateError } from '../../tasks/poll-template.ts';
import { completeFromOutside, recordPollProgress } from '../../tasks/store/outside.ts';
import { findTaskById } from '../../tasks/store/read.ts';
import type { PollConfig, TaskResult } from '../../tasks/task-types.ts';
import type { JobPayloads } from '../queues.ts';
import { toTaskResult } from './attempt-decision.ts';
import type { HandlerDeps, JobRef } from './handler-deps.ts';
import { AUTH_HEADERS, credentialOrigins, headersForOrigin } from './poll-auth.ts';
import { decidePoll, resultBody } from './poll-decision.ts';
import { vaultHeaderNames } from './prepare-request.ts';

type Finish =
  | { status: 'completed'; result: TaskResult }
  | { status: 'failed'; error: string; result: TaskResult | null };

/**
 * One poll of a provider's status URL (a delayed pg-boss job, never a sleeping worker): done →
 * fetch the result and complete; failed → fail; anything else → record progress and poll again
 * after `interval`. A callback, cancel or timeout that ended the task first stops the chain.
 */
export async function handlePoll(deps: HandlerDeps, job: JobRef<JobPayloads['poll']>): Promise<void> {
  // The responses read hold a share of the byte budget until their outcome is recorded.
  const held: OutboundResult[] = [];
  const call = async (req: OutboundRequest) => {
    const result = await deps.caller.call(req);
    held.push(result);
    return result;
  };
  try {
    await pollOnce({ ...deps, caller: { ...deps.caller, call } }, job);
  } finally {
    for (const result of held) if (result.ok) result.response.release();
  }
}

async function pollOnce(deps: HandlerDeps, job: JobRef<JobPayloads['poll']>): Promise<void> {
  const task = await findTaskById(deps.lifecycle.em(), job.data.taskId);
  if (task?.status !== 'polling' || !task.pollConfig || !task.startResult) return;
  // Only the chain's current job polls: a redelivered or duplicate job would start a second chain.
  if (task.pollJobId !== null && task.pollJobId !== job.id) return;
  const config = task.pollConfig;
  let finish: Finish | null = null;
  let progress: unknown;
  try {
    const headers = await pollHeaders(deps, task, config);
    const status = await get(
      deps,
      task,
      fillTemplate(config.urlTemplate, task.startResult, 'pollConfig.urlTemplate'),
      headers,
    );
    const step = decidePoll(config, status);
    if (step.kind === 'failed') finish = { status: 'failed', error: step.error, result: toResult(status) };
    if (step.kind === 'done') finish = await fetchResult(deps, task, config, status, headers);
    progress = step.kind === 'transient' ? undefined : step.progress;
  } catch (error) {
    if (!(error instanceof TemplateError || error instanceof PollSetupError)) throw error;
    finish = { status: 'failed', error: error.message, result: null };
  }
  if (finish) {
    const outcome = finish;
    await deps.lifecycle.change(outcome.status === 'completed' ? 'complete' : 'fail', task, (tx) =>
      completeFromOutside(tx, { column: 'id', value: task.id }, outcome, ['polling']),
    );
    return;
  }
  // Not a status change: the progress and the next poll job commit together, nothing is published.
  const chain = { taskId: task.id, jobId: job.id, nextJobId: randomUUID() };
  const startAfter = new Date(Date.now() + config.interval * 1000);
  await deps.lifecycle.write(
    (tx) => recordPollProgress(tx, chain, progress),
    async (send, still) => {
      if (still) await send('poll', { taskId: task.id }, { id: chain.nextJobId, startAfter });
    },
  );
}

export class PollSetupError extends Error {}

async function pollHeaders(deps: HandlerDeps, task: Task, config: PollConfig): Promise<Record<string, string>> {
  const forwarded = config.forwardAuth
    ? Object.fromEntries(Object.entries(task.headers).filter(([name]) => AUTH_HEADERS.includes(name.toLowerCase())))
    : {};
  try {
    const resolved = await deps.resolveVault(task.teamId, forwarded);
    return {
      'User-Agent': `AsyncQueue/${deps.version}`,
      Accept: 'application/json',
      ...(config.headers ?? {}),
      ...resolved,
    };
  } catch (error) {
    throw new PollSetupError(error instanceof Error ? error.message : String(error));
  }
}

/** One GET of a poll or result URL; the task's credentials go only to origins trusted with them. */
function get(deps: HandlerDeps, task: Task, url: string, headers: Record<string, string>): Promise<OutboundResult> {
  return deps.caller.call({
    url,
    method: 'GET',
    headers: headersForOrigin(url, headers, credentialOrigins(task)),
    hopPolicy: { vaultHeaders: vaultHeaderNames(task.headers) },
    body: null,
    timeoutMs: task.timeout * 1000,
    maxResponseBytes: deps.maxResponseBytes,
  });
}

const toResult = toTaskResult;

/** Done: the result is the status response itself, or a second fetch (fal's response_url). */
async function fetchResult(
  deps: HandlerDeps,
  task: Task,
  config: PollConfig,
  status: OutboundResult,
  headers: Record<string, string>,
): Promise<Finish | null> {
  if (!config.resultUrlTemplate) {
    return {
      status: 'completed',
      result: toResult(status, status.ok ? resultBody(config, status.response) : undefined) as TaskResult,
    };
  }
  const url = fillTemplate(config.resultUrlTemplate, task.startResult as TaskResult, 'pollConfig.resultUrlTemplate');
  const result = await get(deps, task, url, headers);
  if (!result.ok) {
    if (result.failure.kind === 'network_guard')
      return { status: 'failed', error: result.failure.message, result: null };
    return null; // transient: the next poll fetches it again
  }
  const { statusCode } = result.response;
  if (isRetryableStatus(statusCode)) return null;
  if (statusCode >= 300) return { status: 'failed', error: resultError(result.response), result: toResult(result) };
  return { status: 'completed', result: toResult(result, resultBody(config, result.response)) as TaskResult };
}

/** A failed result fetch's error: its body when that is text (a non-text body stays in `result`). */
function resultError(response: { statusCode: number; body: string; bodyEncoding: string }): string {
  if (response.bodyEncoding === 'utf8' && response.body) return response.body;
  return `Result URL answered ${response.statusCode}`;
}
