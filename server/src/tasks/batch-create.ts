import type { EntityManager } from '@mikro-orm/postgresql';
import type { EnqueueMany } from '../jobs/queues.ts';
import { AppError, type ErrorDetail } from '../shared/app-error.ts';
import { type BatchItem, type CreateBatchInput, isInvalidItem } from './batch-input-schema.ts';
import { type CreateDeps, type CreateTaskResponse, canonicalSha256, checkConfiguredRules } from './create-task.ts';
import { claimIdempotencyKeyRow, findIdempotencyKey } from './store/idempotency.ts';
import { DISPATCH_JOB_RETURNING, deleteTaskRows, taskInsertMany } from './store/insert.ts';
import type { CreateTaskInput } from './task-input-schema.ts';
import { buildTaskRow, type NewTask } from './task-row.ts';
import { toTaskView } from './task-view.ts';

/** An item that was not created: the error body of a create, its paths prefixed with `tasks.<index>.`. */
export type BatchItemError = { error: string; code: 'validation_failed'; details: ErrorDetail[] };
export type BatchResult = CreateTaskResponse | BatchItemError;
export type BatchResponse = { results: BatchResult[] };
export type BatchOutcome = { body: BatchResponse; replayed: boolean };

export type BatchDeps = CreateDeps & { enqueueMany: EnqueueMany };

/**
 * The team's rate limit, one point per task: `take` throws 429 (having given its points back) when
 * the window has not that many left; `giveBack` returns points of a batch that created nothing.
 */
export type RateCharge = { take(tasks: number): Promise<void>; giveBack(tasks: number): Promise<void> };

type Accepted = { index: number; built: NewTask; response: CreateTaskResponse };

/**
 * What the transaction inserts, built as soon as the rows are, before any wait: the statement, the
 * tasks' ids (announced after the commit) and whether one is due now. The rows themselves are then
 * dropped: a batch waiting on the rate limit or the database holds its answer, not a second copy.
 */
type Prepared = { ids: string[]; anyDue: boolean; insert: { sql: string; params: unknown[] } };

/**
 * Creates the valid items of a batch together: one statement inserts every task row and its
 * dispatch job (commit → all exist; any failure → none), in a transaction only with an
 * Idempotency-Key. Invalid items are answered in their place with their own indexed details and
 * create nothing. With an Idempotency-Key the key
 * covers the whole batch: the same body replays the stored results, a different one is a 409.
 * A batch with no valid item stores nothing, not even its key (bad input changes nothing).
 */
export async function createBatch(
  em: EntityManager,
  deps: BatchDeps,
  teamId: string,
  input: CreateBatchInput,
  opts: { idempotencyKey: string | null; charge: RateCharge },
): Promise<BatchOutcome> {
  const { idempotencyKey, charge } = opts;
  const hash = idempotencyKey ? batchRequestHash(input.tasks) : '';
  // A replay is answered before anything is charged or built.
  if (idempotencyKey) {
    const replay = await replayStored(em, deps, teamId, idempotencyKey, hash);
    if (replay) return replay;
  }
  const { body, prepared } = await answerItems(em, deps, teamId, input.tasks, idempotencyKey);
  if (!prepared) return { body, replayed: false };
  const count = prepared.ids.length;
  await charge.take(count);
  let lost: BatchOutcome | null = null;
  try {
    // The one statement is the whole change (commit → every row and job; failure → none), so only a
    // key needs a transaction, to claim it with them: no BEGIN and COMMIT round trips otherwise.
    if (idempotencyKey) {
      lost = await em.transactional(async (tem) => {
        const claim = { teamId, key: idempotencyKey, hash, taskId: prepared.ids[0] as string, body };
        const stored = await claimBatchKey(tem, deps, claim);
        if (!stored) await insertAll(tem, deps, prepared);
        return stored;
      });
    } else {
      await insertAll(em, deps, prepared).catch(async (error: unknown) => {
        // pg-boss skipped a job (an id conflict) while the rows committed: take them all back.
        await deleteTaskRows(em, prepared.ids);
        throw error;
      });
    }
  } catch (error) {
    await charge.giveBack(count).catch(() => {});
    throw error;
  }
  if (lost) {
    // A concurrent request with the same key created the batch: its answer, our points back.
    await charge.giveBack(count).catch(() => {});
    return lost;
  }
  for (const id of prepared.ids) deps.onCreated?.(id);
  if (prepared.anyDue) deps.onDispatchDue?.();
  return { body, replayed: false };
}

/** Every item's answer (its create answer or its error) and the insert of the valid ones (null: none). */
async function answerItems(
  em: EntityManager,
  deps: CreateDeps,
  teamId: string,
  items: readonly BatchItem[],
  idempotencyKey: string | null,
): Promise<{ body: BatchResponse; prepared: Prepared | null }> {
  const results: (BatchResult | null)[] = items.map(() => null);
  const candidates = validateItems(items, deps, results);
  // One instant for the whole batch: its tasks are created by one statement.
  const now = new Date();
  const vaultErrors = await missingVaultReferencesByItem(em, deps, teamId, candidates);
  const accepted: Accepted[] = [];
  for (const { index, item } of candidates) {
    const missing = vaultErrors.get(index);
    if (missing) results[index] = itemError(index, missing);
    else accepted.push(accept(deps, teamId, index, item, { idempotencyKey, now }));
  }
  for (const { index, response } of accepted) results[index] = response;
  const body = { results: results as BatchResult[] };
  if (accepted.length === 0) return { body, prepared: null };
  const rows = accepted.map((a) => a.built.row);
  const ids = rows.map((row) => row.id);
  const insert = taskInsertMany(rows, 1, DISPATCH_JOB_RETURNING);
  return { body, prepared: { ids, anyDue: rows.some((row) => row.status === 'pending'), insert } };
}

/** Key order ignored: the whole list of items, invalid ones by their raw input. */
function batchRequestHash(items: readonly BatchItem[]): string {
  return canonicalSha256(
    items.map((item) => {
      if (isInvalidItem(item)) return { invalid: item.input ?? null };
      const { idempotencyKey: _ignored, ...rest } = item;
      return rest;
    }),
  );
}

/** Schema failures and the configured rules, item by item; returns the items still valid. */
function validateItems(
  items: readonly BatchItem[],
  deps: CreateDeps,
  results: (BatchResult | null)[],
): { index: number; item: CreateTaskInput }[] {
  const valid: { index: number; item: CreateTaskInput }[] = [];
  // The items of a batch mostly share their URLs: each distinct one is checked once.
  const verdicts = new Map<string, string | null>();
  const checkUrl = (url: string) => {
    let verdict = verdicts.get(url);
    if (verdict === undefined) {
      verdict = deps.checkUrl(url);
      verdicts.set(url, verdict);
    }
    return verdict;
  };
  const rules = { ...deps, checkUrl };
  items.forEach((item, index) => {
    if (isInvalidItem(item)) {
      results[index] = itemError(index, item.details);
      return;
    }
    if (item.idempotencyKey != null) {
      const message = 'a batch has one key for all its tasks: send it as the Idempotency-Key header';
      results[index] = itemError(index, [{ path: 'idempotencyKey', message }]);
      return;
    }
    try {
      checkConfiguredRules(item, rules);
      valid.push({ index, item });
    } catch (error) {
      if (!(error instanceof AppError) || !error.details) throw error;
      results[index] = itemError(index, error.details);
    }
  });
  return valid;
}

function itemError(index: number, details: readonly ErrorDetail[]): BatchItemError {
  const prefixed = details.map((d) => ({
    path: d.path ? `tasks.${index}.${d.path}` : `tasks.${index}`,
    message: d.message,
  }));
  const fields = [...new Set(prefixed.map((d) => d.path))].join(', ');
  return { error: `Invalid task: ${fields}`, code: 'validation_failed', details: prefixed };
}

/**
 * Vault references of every item checked with ONE look-up: each distinct referenced value is
 * presented once, under a name of its own, and the missing ones are mapped back to the headers
 * that use them. Returns the details per item index (paths within the item).
 */
async function missingVaultReferencesByItem(
  em: EntityManager,
  deps: CreateDeps,
  teamId: string,
  items: readonly { index: number; item: CreateTaskInput }[],
): Promise<Map<number, ErrorDetail[]>> {
  const values = [...new Set(items.flatMap(({ item }) => Object.values(item.headers).filter(isVaultShaped)))];
  const byItem = new Map<number, ErrorDetail[]>();
  if (values.length === 0) return byItem;
  const probe = Object.fromEntries(values.map((value, i) => [`v${i}`, value]));
  const missing = new Map<string, string>();
  for (const detail of await deps.missingVaultReferences(em, teamId, probe)) {
    const value = probe[detail.path.replace(/^headers\./, '')];
    // A detail naming no probe would be a reference this batch cannot map back: never let it pass.
    if (value === undefined) throw new Error(`vault check answered an unknown path: ${detail.path}`);
    missing.set(value, detail.message);
  }
  for (const { index, item } of items) {
    const details = Object.entries(item.headers)
      .filter(([, value]) => missing.has(value))
      .map(([name, value]) => ({ path: `headers.${name}`, message: missing.get(value) as string }));
    if (details.length > 0) byItem.set(index, details);
  }
  return byItem;
}

/** Only values starting with `tok_` can be vault references (or malformed ones): the rest need no look-up. */
const isVaultShaped = (value: string) => value.startsWith('tok_');

function accept(
  deps: CreateDeps,
  teamId: string,
  index: number,
  item: CreateTaskInput,
  opts: { idempotencyKey: string | null; now: Date },
): Accepted {
  const built = buildTaskRow(teamId, item, {
    providerBaseUrls: deps.providerBaseUrls,
    idempotencyKey: opts.idempotencyKey,
    now: opts.now,
    secretBox: deps.secretBox,
  });
  // The view itself takes the callback id (last, as in a single create's answer): no copy of it.
  const task = toTaskView(built.row) as CreateTaskResponse['task'];
  task.callbackId = built.callbackId;
  const response: CreateTaskResponse = { task };
  if (built.callbackId) response.callbackUrl = `${deps.publicUrl}/v1/callbacks/${built.callbackId}`;
  if (built.signalToken) response.signalToken = built.signalToken;
  return { index, built, response };
}

/**
 * Every accepted row and its dispatch job: one statement (the rows' INSERT is a CTE of the jobs'),
 * the jobs made in SQL from the inserted rows (no array of jobs built and sent).
 */
async function insertAll(em: EntityManager, deps: BatchDeps, prepared: Prepared): Promise<void> {
  await deps.enqueueMany(em, 'dispatch', { derivedFromRows: prepared.ids.length }, (first) => {
    // Numbered from $1 when it was built: derived jobs bring no parameter of their own.
    if (first !== 1) throw new Error(`the batch's INSERT was built from $1, not $${first}`);
    return prepared.insert;
  });
}

/** The stored answer of this key, or 409 for another request under it; null when the key is free. */
async function replayStored(
  em: EntityManager,
  deps: CreateDeps,
  teamId: string,
  key: string,
  hash: string,
): Promise<BatchOutcome | null> {
  const existing = await findIdempotencyKey(em, teamId, key);
  if (!existing) return null;
  if (existing.request_hash !== hash) {
    throw new AppError(
      'idempotency_conflict',
      'This Idempotency-Key was already used with a different request; use a new key for a new request',
    );
  }
  // Same hash, so the same batch body (a single create's key hashes another shape): its results.
  return { body: JSON.parse(deps.secretBox.open(existing.response_enc)) as BatchResponse, replayed: true };
}

/**
 * Claims the key in the creating transaction (a concurrent batch with the same key waits on the
 * primary key, then replays or gets 409). Returns the stored answer when another request owns it.
 */
async function claimBatchKey(
  em: EntityManager,
  deps: CreateDeps,
  claim: { teamId: string; key: string; hash: string; taskId: string; body: BatchResponse },
): Promise<BatchOutcome | null> {
  const owned = await claimIdempotencyKeyRow(em, {
    teamId: claim.teamId,
    key: claim.key,
    requestHash: claim.hash,
    taskId: claim.taskId,
    responseEnc: deps.secretBox.seal(JSON.stringify(claim.body)),
  });
  if (owned) return null;
  const replay = await replayStored(em, deps, claim.teamId, claim.key, claim.hash);
  if (!replay) throw new AppError('conflict', 'Idempotency key is being used by a concurrent request; retry');
  return replay;
}
