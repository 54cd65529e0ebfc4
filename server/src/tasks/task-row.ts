import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Task } from '../db/entities/task.ts';
import { uuidv7 } from '../db/uuid-v7.ts';
import { usesCallbackPlaceholder } from './callback-placeholder.ts';
import { effectivePollConfig, findPreset } from './providers/index.ts';
import type { CreateTaskInput } from './task-input-schema.ts';

export type NewTask = { row: Task; callbackId: string | null; signalToken: string | null };

/** 32 bytes of CSPRNG as 64 lowercase hex characters: callback ids and signal tokens. */
export function newCredential(): string {
  return randomBytes(32).toString('hex');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Builds the row of a new task from validated input. Pure apart from ids and the clock. */
export function buildTaskRow(
  teamId: string,
  input: CreateTaskInput,
  opts: { providerBaseUrls: Readonly<Record<string, string>>; idempotencyKey: string | null; now: Date },
): NewTask {
  const delayUntil = input.delayUntil ? new Date(input.delayUntil) : null;
  const delayed = delayUntil !== null && delayUntil.getTime() > opts.now.getTime();
  const callbackId = usesCallbackPlaceholder(input) ? newCredential() : null;
  const signalToken = input.waitForSignal ? newCredential() : null;
  const preset = input.provider ? findPreset(input.provider) : undefined;
  const pollConfig = preset ? effectivePollConfig(preset, opts.providerBaseUrls) : (input.pollConfig ?? null);
  const row: Task = {
    id: uuidv7(opts.now.getTime()),
    teamId,
    status: delayed ? 'delayed' : 'pending',
    targetUrl: input.targetUrl,
    method: input.method,
    headers: input.headers,
    body: input.body ?? null,
    timeout: input.timeout,
    maxRetries: input.maxRetries,
    retryBackoff: input.retryBackoff,
    delayUntil,
    priority: input.priority,
    waitForSignal: input.waitForSignal,
    maxWaitTime: input.maxWaitTime,
    onCompleteUrl: input.onCompleteUrl ?? null,
    provider: input.provider ?? null,
    pollConfig,
    callbackId,
    callbackConsumed: false,
    signalTokenHash: signalToken ? sha256Hex(signalToken) : null,
    signalConsumed: false,
    startResult: null,
    result: null,
    error: null,
    progress: null,
    retryCount: 0,
    attempts: [],
    webhookDeliveries: [],
    dispatchJobId: randomUUID(),
    dispatchLease: null,
    pollJobId: null,
    cancelRequested: false,
    idempotencyKey: opts.idempotencyKey,
    createdAt: opts.now,
    updatedAt: opts.now,
    startedAt: null,
    completedAt: null,
    deadlineAt: null,
  } as Task;
  return { row, callbackId, signalToken };
}
