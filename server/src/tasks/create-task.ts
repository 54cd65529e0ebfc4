import type { EntityManager } from '@mikro-orm/postgresql';
import type { SecretBox } from '../auth/secret-box.ts';
import { dispatchGroup, type Enqueue } from '../jobs/queues.ts';
import { AppError, type ErrorDetail, validationError } from '../shared/app-error.ts';
import { claimIdempotencyKeyRow, findIdempotencyKey } from './store/idempotency.ts';
import { deleteTaskRows, insertHeldTask, taskInsert } from './store/insert.ts';
import type { CreateTaskInput } from './task-input-schema.ts';
import { buildTaskRow, sha256Hex } from './task-row.ts';
import { type TaskView, toTaskView } from './task-view.ts';

export type CreateTaskResponse = {
  task: TaskView & { callbackId: string | null };
  callbackUrl?: string;
  signalToken?: string;
};
export type CreateOutcome = { body: CreateTaskResponse; replayed: boolean };

export type CreateDeps = {
  enqueue: Enqueue;
  secretBox: SecretBox;
  publicUrl: string;
  maxBodyBytes: number;
  maxWaitTime: number;
  providerBaseUrls: Readonly<Record<string, string>>;
  /** The network guard's creation-time check of IP literals: a reason string when refused. */
  checkUrl: (url: string) => string | null;
  /** A dispatch job due now was committed (a local dispatcher may start it before its NOTIFY lands). */
  onDispatchDue?: () => void;
  /** A task was inserted and committed: live event streams learn of it (the task-changed NOTIFY). */
  onCreated?: (taskId: string) => void;
  /** Whether the team's flow key has limits now: a new task on it starts held, without a job. */
  flowKeyLimited?: (em: EntityManager, teamId: string, flowKey: string) => Promise<boolean>;
  /** A held task was committed: its key's hand-over must run. */
  onFlowHeld?: (teamId: string, flowKey: string) => void;
  /** Vault: `tok_`-shaped header values that name no live token of the team (malformed ones included). */
  missingVaultReferences: (
    em: EntityManager,
    teamId: string,
    headers: Record<string, string>,
  ) => Promise<ErrorDetail[]>;
};

/** Limits that depend on configuration, and the network guard; zod covered the static rules. */
export function checkConfiguredRules(input: CreateTaskInput, deps: CreateDeps): void {
  const details: ErrorDetail[] = [];
  if (input.body != null && Buffer.byteLength(input.body, 'utf8') > deps.maxBodyBytes) {
    details.push({ path: 'body', message: `must be at most ${deps.maxBodyBytes} bytes in UTF-8` });
  }
  if (input.maxWaitTime > deps.maxWaitTime) {
    details.push({ path: 'maxWaitTime', message: `must be at most ${deps.maxWaitTime} seconds on this server` });
  }
  for (const field of ['targetUrl', 'onCompleteUrl'] as const) {
    const url = input[field];
    const reason = url ? deps.checkUrl(url) : null;
    if (reason) details.push({ path: field, message: reason });
  }
  if (details.length > 0) throw validationError(details);
}

/** Key order ignored, idempotencyKey left out: what counts as "the same request" for idempotency. */
function requestHash(input: CreateTaskInput): string {
  const { idempotencyKey: _ignored, ...rest } = input;
  return canonicalSha256(rest);
}

/** SHA-256 of a JSON value with object keys sorted at every level (key order never matters). */
export function canonicalSha256(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return sha256Hex(JSON.stringify(canonical(value)));
}

export async function createTask(
  em: EntityManager,
  deps: CreateDeps,
  teamId: string,
  input: CreateTaskInput,
  idempotencyKey: string | null,
): Promise<CreateOutcome> {
  checkConfiguredRules(input, deps);
  const missing = await deps.missingVaultReferences(em, teamId, input.headers);
  if (missing.length > 0) throw validationError(missing);
  const { row, callbackId, signalToken } = buildTaskRow(teamId, input, {
    providerBaseUrls: deps.providerBaseUrls,
    idempotencyKey,
    now: new Date(),
    secretBox: deps.secretBox,
  });
  const body: CreateTaskResponse = { task: { ...toTaskView(row), callbackId } };
  if (callbackId) body.callbackUrl = `${deps.publicUrl}/v1/callbacks/${callbackId}`;
  if (signalToken) body.signalToken = signalToken;

  // A task due now on a limited key starts held: no job until its key's hand-over grants it (then
  // one job, not a first one that would only park it). Any later change of the key wakes that
  // hand-over after its commit, and so does this create.
  const heldKey = row.status === 'pending' && row.flowKey ? row.flowKey : null;
  row.flowHeld = heldKey != null && ((await deps.flowKeyLimited?.(em, teamId, heldKey)) ?? false);
  // The task row and its dispatch job are one statement (commit → both exist). Only a request with
  // an Idempotency-Key needs a transaction, to claim the key with them.
  const insert = async (tx: EntityManager) =>
    row.flowHeld
      ? insertHeldTask(tx, row)
      : deps.enqueue(
          tx,
          'dispatch',
          { taskId: row.id },
          {
            id: row.dispatchJobId as string,
            group: dispatchGroup(teamId, row.flowKey),
            ...dispatchJobOptions(row.priority, row.delayUntil ?? null),
          },
          (first) => taskInsert(row, first),
        );
  if (!idempotencyKey) {
    await insert(em).catch(async (error: unknown) => {
      // pg-boss inserted no job (it answers null, e.g. an id conflict) while the task row committed:
      // take the row back so that no task exists without its job. A failed statement left nothing.
      await deleteTaskRows(em, [row.id]);
      throw error;
    });
  } else {
    const replay = await em.transactional(async (tem) => {
      const claimed = await claimIdempotencyKey(tem, deps, teamId, idempotencyKey, requestHash(input), row.id, body);
      if (!claimed) await insert(tem);
      return claimed;
    });
    if (replay) return replay;
  }
  deps.onCreated?.(row.id);
  if (row.flowHeld && heldKey) deps.onFlowHeld?.(teamId, heldKey);
  else if (row.status === 'pending') deps.onDispatchDue?.();
  return { body, replayed: false };
}

export function dispatchJobOptions(priority: number, delayUntil: Date | null) {
  return delayUntil && delayUntil.getTime() > Date.now() ? { priority, startAfter: delayUntil } : { priority };
}

/**
 * Claims the key inside the creating transaction. A concurrent request with the same key blocks on
 * the primary key until this one commits, then sees the row and replays (or gets 409). Returns the
 * replayed outcome, or null when this request owns the key and must create the task.
 */
async function claimIdempotencyKey(
  em: EntityManager,
  deps: CreateDeps,
  teamId: string,
  key: string,
  hash: string,
  taskId: string,
  body: CreateTaskResponse,
): Promise<CreateOutcome | null> {
  const owned = await claimIdempotencyKeyRow(em, {
    teamId,
    key,
    requestHash: hash,
    taskId,
    responseEnc: deps.secretBox.seal(JSON.stringify(body)),
  });
  if (owned) return null;
  const existing = await findIdempotencyKey(em, teamId, key);
  if (!existing) throw new AppError('conflict', 'Idempotency key is being used by a concurrent request; retry');
  if (existing.request_hash !== hash) {
    throw new AppError(
      'idempotency_conflict',
      'This Idempotency-Key was already used with a different request; use a new key for a new request',
    );
  }
  return { body: JSON.parse(deps.secretBox.open(existing.response_enc)) as CreateTaskResponse, replayed: true };
}
