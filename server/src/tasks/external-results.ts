import { findPreset } from './providers/index.ts';
import { type CredentialColumn, type CredentialLookup, findByCredential } from './store/credentials.ts';

export type { CredentialColumn, CredentialLookup };

import { completeFromOutside, recordProgress } from './store/outside.ts';
import type { TaskLifecycle } from './task-lifecycle.ts';
import { isTerminal } from './task-status.ts';
import type { TaskResult, TaskStatus } from './task-types.ts';
import { type TaskView, toTaskView } from './task-view.ts';

export type ExternalOutcome =
  | { status: 200 | 202; task: TaskView }
  | { status: 404 | 409; error: string; code: 'not_found' | 'conflict' };

const CALLBACK_NOT_FOUND = 'Invalid or expired callback ID';
const SIGNAL_NOT_FOUND = 'Invalid or expired signal token';
const notWaiting = (status: TaskStatus) => `Task is not in waiting/polling state (current: ${status})`;

/** Headers of a callback kept in the result: the content type and provider signature headers. */
export function keptCallbackHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    const keep =
      lower === 'content-type' ||
      lower.startsWith('webhook-') ||
      lower.startsWith('x-fal-webhook-') ||
      lower === 'elevenlabs-signature';
    if (keep && value !== undefined) kept[lower] = Array.isArray(value) ? value.join(', ') : value;
  }
  return kept;
}

/**
 * A provider's callback: one conditional UPDATE consumes the id and completes the task; the
 * completion webhook (onCompleteUrl) is enqueued in the same transaction, long-polls are woken once
 * it committed. A preset's non-final payload is kept
 * as progress (202) and leaves the id usable.
 */
export async function acceptCallback(
  lifecycle: TaskLifecycle,
  callbackId: string,
  payload: { raw: string; json: unknown; headers: Record<string, string> },
  row: CredentialLookup | undefined,
): Promise<ExternalOutcome> {
  const refused = refusal(row, 'callback_id_hash');
  if (refused) return refused;
  const preset = row?.provider ? findPreset(row.provider) : undefined;
  if (preset && !preset.isFinalCallback(payload.json)) {
    const updated = await lifecycle.change('progress', null, (tx) => recordProgress(tx, callbackId, payload.json));
    return updated
      ? { status: 202, task: toTaskView(updated) }
      : settleLoser(lifecycle, 'callback_id_hash', callbackId);
  }
  const result: TaskResult = {
    statusCode: 200,
    headers: payload.headers,
    body: payload.raw,
    // The raw body parsed as JSON, so it is text: JSON allows no raw NUL (an escaped one is text).
    bodyEncoding: 'utf8',
    duration: 0,
    bodyTruncated: false,
  };
  const where = { column: 'callback_id_hash', value: callbackId } as const;
  return complete(lifecycle, where, { status: 'completed', result }, row);
}

/** A signal for a waitForSignal task; same single-use rules as callbacks. */
export async function acceptSignal(
  lifecycle: TaskLifecycle,
  tokenHash: string,
  signal: { status: 'completed'; result: unknown } | { status: 'failed'; error: string },
  row: CredentialLookup | undefined,
): Promise<ExternalOutcome> {
  const refused = refusal(row, 'signal_token_hash');
  if (refused) return refused;
  const outcome =
    signal.status === 'completed'
      ? {
          status: 'completed' as const,
          result: {
            statusCode: 200,
            headers: {},
            body: JSON.stringify(signal.result ?? null),
            bodyEncoding: 'utf8' as const,
            duration: 0,
            bodyTruncated: false,
          },
        }
      : { status: 'failed' as const, error: signal.error, result: null };
  return complete(lifecycle, { column: 'signal_token_hash', value: tokenHash }, outcome, row);
}

async function complete(
  lifecycle: TaskLifecycle,
  where: { column: 'callback_id_hash' | 'signal_token_hash'; value: string },
  outcome: Parameters<typeof completeFromOutside>[2],
  row: CredentialLookup | undefined,
): Promise<ExternalOutcome> {
  // Without onCompleteUrl the completion is one autocommit UPDATE; with it, the UPDATE and the
  // webhook job share a transaction. Either way its row is published once committed.
  const known = row ? { id: row.id, sendsWebhook: row.sends_webhook } : null;
  const name = outcome.status === 'completed' ? 'complete' : 'fail';
  const task = await lifecycle.change(name, known, (tx) => completeFromOutside(tx, where, outcome));
  if (!task) return settleLoser(lifecycle, where.column, where.value);
  // The long-polls this process just handed the row to answer first (their continuations are
  // microtasks, all run before this macrotask): the waiting client matters more than the sender's ack.
  await new Promise<void>((resolve) => setImmediate(resolve));
  return { status: 200, task: toTaskView(task) };
}

/**
 * The look-up of a presented credential (its SHA-256), made once per request by the raw route
 * before the body is read: an unknown or used one is answered 404 without reading anything, and
 * the row found is handed to acceptCallback/acceptSignal. What it says is only a fast answer; the
 * conditional UPDATE settles every race (settleLoser reads again).
 */
export function lookupCredential(lifecycle: TaskLifecycle, column: CredentialColumn, value: string) {
  return findByCredential(lifecycle.em(), column, value);
}

/** No task holds this credential, or it was used: 404 whatever the body says. */
export function isUnknownCredential(row: CredentialLookup | undefined): boolean {
  return !row || row.consumed;
}

/** The answers: unknown or already used credential → 404; a task that ended another way → 409. */
function refusal(row: CredentialLookup | undefined, column: CredentialColumn): ExternalOutcome | null {
  if (!row || row.consumed) {
    const error = column === 'callback_id_hash' ? CALLBACK_NOT_FOUND : SIGNAL_NOT_FOUND;
    return { status: 404, error, code: 'not_found' };
  }
  return isTerminal(row.status) ? { status: 409, error: notWaiting(row.status), code: 'conflict' } : null;
}

/** Our UPDATE matched nothing: someone else won the race. Say who, with the same 404/409 answers. */
async function settleLoser(
  lifecycle: TaskLifecycle,
  column: CredentialColumn,
  value: string,
): Promise<ExternalOutcome> {
  const row = await findByCredential(lifecycle.em(), column, value);
  // Matched nothing yet neither used nor ended: the task left the accepting statuses otherwise.
  return refusal(row, column) ?? { status: 409, error: notWaiting(row?.status ?? 'pending'), code: 'conflict' };
}
