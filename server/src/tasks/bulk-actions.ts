import type { EntityManager } from '@mikro-orm/postgresql';
import { callbackIdOwner } from '../auth/sealed-owners.ts';
import { uuidv7 } from '../db/uuid-v7.ts';
import { dispatchGroup } from '../jobs/queues.ts';
import type { BatchDeps } from './batch-create.ts';
import { dispatchJobOptions } from './create-task.ts';
import { anyMatchingAfter, type BulkTarget, cancelMany, flagCancelMany, nextMatchingIds } from './store/bulk.ts';
import type { TaskFilter } from './store/filters.ts';
import { claimReplaySources, type ReplayCopy, type ReplaySource, replayCopyInsert } from './store/replay.ts';
import type { TaskLifecycle } from './task-lifecycle.ts';
import { newCredential, sha256Hex } from './task-row.ts';

/**
 * Why 500: each chunk is a few short statements (a cancel chunk two autocommit UPDATEs, a replay
 * chunk one transaction of a claim and one INSERT) holding at most 500 row locks for milliseconds,
 * so dispatch and callbacks on the same tasks wait at most one chunk, never a whole bulk action.
 */
export const BULK_CHUNK = 500;
/** Why 10,000: a call answers within seconds; a bigger selection is several calls (`hasMore`). */
export const MAX_BULK_TASKS = 10_000;

export type BulkOutcome = { matched: number; changed: number; hasMore: boolean };

/**
 * Walks the matching tasks in id order, a chunk at a time, up to MAX_BULK_TASKS; `act` changes a
 * chunk and says how many it changed. Each chunk re-reads what matches now, so a task that stopped
 * matching (e.g. was cancelled meanwhile) is not counted.
 */
async function walkChunks(
  em: EntityManager,
  teamId: string,
  filter: TaskFilter,
  target: BulkTarget,
  act: (ids: string[]) => Promise<number>,
): Promise<BulkOutcome> {
  let matched = 0;
  let changed = 0;
  let afterId: string | null = null;
  while (matched < MAX_BULK_TASKS) {
    const limit = Math.min(BULK_CHUNK, MAX_BULK_TASKS - matched);
    const ids = await nextMatchingIds(em, teamId, filter, { target, afterId, limit });
    if (ids.length === 0) return { matched, changed, hasMore: false };
    matched += ids.length;
    changed += await act(ids);
    afterId = ids.at(-1) as string;
    if (ids.length < limit) return { matched, changed, hasMore: false };
  }
  const hasMore = afterId !== null && (await anyMatchingAfter(em, teamId, filter, { target, afterId }));
  return { matched, changed, hasMore };
}

/**
 * Cancels the team's not-yet-ended tasks matching `filter`, as the single cancel does: at once where
 * it may (one fenced UPDATE per chunk), and by flagging `cancelRequested` a task whose attempt is in
 * flight, which then ends cancelled. A task claimed by a worker between the two statements is
 * flagged, so it is never both dispatched after the cancel and reported cancelled at once.
 */
export function cancelMatching(lifecycle: TaskLifecycle, teamId: string, filter: TaskFilter): Promise<BulkOutcome> {
  const em = lifecycle.em();
  return walkChunks(em, teamId, filter, 'cancel', async (ids) => {
    const cancelled = await cancelMany(em, teamId, ids);
    const flagged = await flagCancelMany(em, teamId, ids);
    lifecycle.announceIds([...cancelled, ...flagged.map((id) => ({ id, status: null }))]);
    return cancelled.length + flagged.length;
  });
}

/**
 * Replays the team's ended tasks matching `filter` that were not replayed yet: each gets a copy
 * (`replayOf` = its id) made inside PostgreSQL with its dispatch job, a chunk per transaction.
 * The copies' new callback ids and signal tokens are not returned (replay one task to get them);
 * a callback copy still works, its provider receives the new callback URL at dispatch.
 */
export async function replayMatching(
  em: EntityManager,
  deps: BatchDeps,
  teamId: string,
  filter: TaskFilter,
): Promise<BulkOutcome> {
  let anyDue = false;
  const created: string[] = [];
  const outcome = await walkChunks(em, teamId, filter, 'replay', (ids) =>
    em.transactional(async (tem) => {
      const sources = await claimReplaySources(tem, teamId, ids);
      if (sources.length === 0) return 0;
      const copies = sources.map((source) => replayCopyOf(source, deps));
      const jobs = copies.map((copy, i) => ({
        id: copy.dispatch_job_id,
        data: { taskId: copy.id },
        group: dispatchGroup(teamId, sources[i]?.flowKey),
        ...dispatchJobOptions(sources[i]?.priority ?? 5, sources[i]?.delayUntil ?? null),
      }));
      await deps.enqueueMany(tem, 'dispatch', jobs, (first) => replayCopyInsert(copies, first));
      anyDue ||= copies.some((c) => c.status === 'pending');
      created.push(...copies.map((c) => c.id));
      return copies.length;
    }),
  );
  // Committed: live event streams learn of the copies as of any create.
  for (const id of created) deps.onCreated?.(id);
  if (anyDue) deps.onDispatchDue?.();
  return outcome;
}

/** A copy's own values: new id and dispatch job, new credentials where the original had them. */
function replayCopyOf(source: ReplaySource, deps: Pick<BatchDeps, 'secretBox'>): ReplayCopy {
  const now = Date.now();
  const id = uuidv7(now);
  const callbackId = source.hasCallback ? newCredential() : null;
  return {
    source: source.id,
    id,
    status: source.delayUntil && source.delayUntil.getTime() > now ? 'delayed' : 'pending',
    callback_id_hash: callbackId ? sha256Hex(callbackId) : null,
    callback_id_sealed: callbackId ? deps.secretBox.seal(callbackId, callbackIdOwner(id)) : null,
    signal_token_hash: source.waitForSignal ? sha256Hex(newCredential()) : null,
    dispatch_job_id: crypto.randomUUID(),
  };
}
