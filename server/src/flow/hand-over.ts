import type { EntityManager } from '@mikro-orm/postgresql';
import { dispatchGroup, type EnqueueMany } from '../jobs/queues.ts';
import { countSlotsHeld, type GrantLimits, grantHeldTasks, hasHeldTasks } from '../tasks/store/flow.ts';
import { type FlowKeyRow, findFlowKey, lockFlowKey, recentGrants, recordGrants } from './store/flow-keys.ts';

/**
 * Why 500: the most held tasks one hand-over grants (a key deleted or raised with thousands
 * queued); the gate runs the key again at once while it keeps granting a full batch.
 */
export const HAND_OVER_BATCH = 500;

export type HandOverResult = {
  granted: number;
  /** When the key can grant again by itself (the rate window or a 429 pause ends), else null. */
  retryAt: Date | null;
};

/** What a key allows right now: slots and grants, or why none (paused, rate window). */
async function allowance(em: EntityManager, teamId: string, key: string, limits: FlowKeyRow | null) {
  if (!limits) return { grant: { freeSlots: null, maxGrants: HAND_OVER_BATCH, scope: null }, retryAt: null };
  if (limits.paused) return { grant: null, retryAt: null };
  if (limits.pauseActive) return { grant: null, retryAt: limits.pausedUntil };
  let freeSlots: number | null = null;
  if (limits.concurrency != null) {
    const effective = Math.min(limits.concurrency, limits.effectiveConcurrency ?? limits.concurrency);
    freeSlots = Math.max(0, effective - (await countSlotsHeld(em, teamId, key)));
  }
  let maxGrants = HAND_OVER_BATCH;
  let retryAt: Date | null = null;
  if (limits.ratePerMinute != null) {
    const recent = await recentGrants(em, teamId, key);
    maxGrants = Math.min(maxGrants, Math.max(0, limits.ratePerMinute - recent.count));
    if (maxGrants === 0) retryAt = recent.freesAt;
  }
  const grant: GrantLimits = { freeSlots, maxGrants, scope: limits.concurrency != null ? limits.scope : null };
  return { grant, retryAt };
}

/**
 * Gives a key's free capacity to its held tasks, in one transaction under the key's lock: read the
 * limits, count the slots held and the grants of the last minute, grant held tasks in dispatch
 * order, and send their dispatch jobs in one statement (commit → the grants and the jobs exist
 * together). Every event that can free capacity (a task parked, a slot given back, a limit raised,
 * a resume) runs this after its own commit, so with the lock no hand-over is lost between two.
 */
export async function handOver(
  em: EntityManager,
  enqueueMany: EnqueueMany,
  teamId: string,
  key: string,
): Promise<HandOverResult> {
  // Nothing held, nothing to grant: no transaction. A task parked after this probe wakes the
  // hand-over again once its own commit is visible.
  if (!(await hasHeldTasks(em, teamId, key))) return { granted: 0, retryAt: null };
  return em.transactional(async (tx) => {
    await lockFlowKey(tx, teamId, key);
    const limits = await findFlowKey(tx, teamId, key);
    const { grant, retryAt } = await allowance(tx, teamId, key, limits);
    if (!grant) return { granted: 0, retryAt };
    const granted = await grantHeldTasks(tx, teamId, key, grant);
    if (granted.length > 0 && limits?.ratePerMinute != null) await recordGrants(tx, teamId, key, granted.length);
    const group = dispatchGroup(teamId, key);
    const jobs = granted.map((t) => ({ id: t.dispatchJobId, data: { taskId: t.id }, priority: t.priority, group }));
    await enqueueMany(tx, 'dispatch', jobs);
    return { granted: granted.length, retryAt };
  });
}
