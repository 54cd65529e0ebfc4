import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { callbackIdOwner } from '../auth/sealed-owners.ts';
import type { SecretBox } from '../auth/secret-box.ts';
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
  opts: {
    providerBaseUrls: Readonly<Record<string, string>>;
    idempotencyKey: string | null;
    now: Date;
    /** Seals the callback id (bound to the task) for the dispatch; only its hash is looked up. */
    secretBox: SecretBox;
    /** The task this one replays, if any. */
    replayOf?: string | null;
  },
): NewTask {
  const delayUntil = input.delayUntil ? new Date(input.delayUntil) : null;
  const delayed = delayUntil !== null && delayUntil.getTime() > opts.now.getTime();
  const callbackId = usesCallbackPlaceholder(input) ? newCredential() : null;
  const signalToken = input.waitForSignal ? newCredential() : null;
  const preset = input.provider ? findPreset(input.provider) : undefined;
  const pollConfig = preset ? effectivePollConfig(preset, opts.providerBaseUrls) : (input.pollConfig ?? null);
  const id = uuidv7(opts.now.getTime());
  const row: Task = {
    id,
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
    callbackIdHash: callbackId ? sha256Hex(callbackId) : null,
    callbackIdSealed: callbackId ? opts.secretBox.seal(callbackId, callbackIdOwner(id)) : null,
    callbackConsumed: false,
    signalTokenHash: signalToken ? sha256Hex(signalToken) : null,
    signalConsumed: false,
    startResult: null,
    startResultBody: null,
    startResultBodyEncoding: null,
    result: null,
    resultBody: null,
    resultBodyEncoding: null,
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
    replayOf: opts.replayOf ?? null,
    replayedAt: null,
    // An explicit null means no flow control; left out, a preset task is limited under its preset id.
    flowKey: input.flowKey === undefined ? (input.provider ?? null) : input.flowKey,
    flowSlot: null,
    flowGrant: false,
    flowHeld: false,
  } as Task;
  return { row, callbackId, signalToken };
}
