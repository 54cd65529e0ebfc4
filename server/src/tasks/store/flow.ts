import type { EntityManager } from '@mikro-orm/postgresql';
import { execute } from '../../db/prepared.ts';

/**
 * The flow-control statements on `tasks` (flow/ holds the ones on its own tables). A task holds a
 * slot of its key while `flow_slot` is set and it has not ended: scope `task` until it is terminal,
 * scope `request` only while its grant is unused or its call is in flight. So a slot is given back
 * by the task's own status change, in the same UPDATE, and can never outlive its task.
 */

/** The tasks of a key that hold one of its slots (the partial index tasks_flow_slot_index). */
const HOLDS_SLOT = `flow_slot is not null and status in ('pending', 'delayed', 'processing', 'waiting', 'polling')
  and (flow_slot = 'task' or flow_grant or (status = 'processing' and dispatch_lease is not null))`;

/** The tasks of a key parked by its limits, waiting for a hand-over. */
const HELD = `flow_held and status = 'pending'`;

/** Dispatch order of held tasks: priority, then creation. */
const ORDER = 'priority desc, created_at, id';

export async function countSlotsHeld(em: EntityManager, teamId: string, flowKey: string): Promise<number> {
  const rows = await execute<{ n: number }>(
    em,
    `select count(*)::int as n from tasks where team_id = ? and flow_key = ? and ${HOLDS_SLOT}`,
    [teamId, flowKey],
  );
  return rows[0]?.n ?? 0;
}

export type GrantLimits = {
  /** New slots free on the key, or null when the key has no concurrency limit. */
  freeSlots: number | null;
  /** At most this many grants (the rate window's budget, and a batch bound). */
  maxGrants: number;
  /** The slot scope granted tasks hold, or null when the key has no concurrency limit. */
  scope: 'task' | 'request' | null;
};

/**
 * Grants held tasks their next attempt, in dispatch order: each gets a new dispatch job id (the
 * caller sends that job in the same transaction) and, under a concurrency limit, a slot. A task
 * that already holds a `task` slot (a retry) needs no new one. Run under the key's lock
 * (flow/store/flow-keys.ts lockFlowKey); each row is re-checked (a cancel may have won meanwhile).
 */
export async function grantHeldTasks(
  em: EntityManager,
  teamId: string,
  flowKey: string,
  limits: GrantLimits,
): Promise<{ id: string; dispatchJobId: string; priority: number }[]> {
  if (limits.maxGrants <= 0) return [];
  const rows = await execute<{ id: string; dispatch_job_id: string; priority: number }>(
    em,
    `with cand as (
      select id, flow_slot = 'task' as has_slot,
        count(*) filter (where flow_slot is distinct from 'task') over (order by ${ORDER}) as new_slots
      from tasks where team_id = ? and flow_key = ? and ${HELD}
      order by ${ORDER} limit ?)
    update tasks set flow_held = false, flow_grant = true, dispatch_job_id = gen_random_uuid(), updated_at = now(),
      flow_slot = case when cand.has_slot then 'task' else ?::text end
    from cand
    where tasks.id = cand.id and tasks.flow_held and tasks.status = 'pending'
      and (cand.has_slot or ?::int is null or cand.new_slots <= ?::int)
    returning tasks.id, tasks.dispatch_job_id, tasks.priority`,
    [teamId, flowKey, limits.maxGrants, limits.scope, limits.freeSlots, limits.freeSlots],
  );
  return rows.map((r) => ({ id: r.id, dispatchJobId: r.dispatch_job_id, priority: r.priority }));
}

/** Whether the key has a held task at all (one index probe; most hand-overs find none). */
export async function hasHeldTasks(em: EntityManager, teamId: string, flowKey: string): Promise<boolean> {
  const rows = await execute(em, `select 1 as held from tasks where team_id = ? and flow_key = ? and ${HELD} limit 1`, [
    teamId,
    flowKey,
  ]);
  return rows.length > 0;
}

/** The keys with held tasks (the sweep hands them over: timers, and hand-overs a crash missed). */
export async function keysWithHeldTasks(
  em: EntityManager,
  limit: number,
): Promise<{ teamId: string; flowKey: string }[]> {
  const rows = await execute<{ team_id: string; flow_key: string }>(
    em,
    `select distinct team_id, flow_key from tasks where ${HELD} limit ?`,
    [limit],
  );
  return rows.map((r) => ({ teamId: r.team_id, flowKey: r.flow_key }));
}

export type FlowFigures = { inFlight: number; queued: number };

/** Slots held and tasks held, per key of a team. */
export async function flowFigures(
  em: EntityManager,
  teamId: string,
  keys: string[],
): Promise<Map<string, FlowFigures>> {
  const figures = new Map<string, FlowFigures>();
  if (keys.length === 0) return figures;
  const rows = await execute<{ flow_key: string; in_flight: number; queued: number }>(
    em,
    `select flow_key, count(*) filter (where ${HOLDS_SLOT})::int as in_flight, count(*) filter (where ${HELD})::int as queued
     from tasks where team_id = ? and flow_key = any(?::text[])
       and status in ('pending', 'delayed', 'processing', 'waiting', 'polling')
     group by flow_key`,
    [teamId, keys],
  );
  for (const r of rows) figures.set(r.flow_key, { inFlight: r.in_flight, queued: r.queued });
  return figures;
}

/** 1 + the held tasks of the key dispatched before this one; null when the task is not held. */
export async function heldPosition(em: EntityManager, teamId: string, taskId: string): Promise<number | null> {
  const rows = await execute<{ position: number | null }>(
    em,
    `select (select count(*)::int + 1 from tasks o where o.team_id = t.team_id and o.flow_key = t.flow_key
        and o.flow_held and o.status = 'pending'
        and (o.priority > t.priority or (o.priority = t.priority and (o.created_at, o.id) < (t.created_at, t.id)))) as position
     from tasks t where t.id = ? and t.team_id = ? and t.flow_held and t.status = 'pending'`,
    [taskId, teamId],
  );
  return rows[0]?.position ?? null;
}

/** Why 1,000: series per scrape for the per-key gauges; keys past it are left out of /metrics. */
const MAX_METRIC_KEYS = 1000;

export type FlowKeyMetrics = { teamId: string; key: string; inFlight: number; queued: number; throttled: number };

/** Every configured key's slots held, tasks held and 429s, for /metrics. */
export async function flowKeyMetrics(em: EntityManager): Promise<FlowKeyMetrics[]> {
  const rows = await execute<{ team_id: string; key: string; in_flight: number; queued: number; throttled: number }>(
    em,
    `select k.team_id, k.key, k.throttled::float8 as throttled,
       (select count(*)::int from tasks where team_id = k.team_id and flow_key = k.key and ${HOLDS_SLOT}) as in_flight,
       (select count(*)::int from tasks where team_id = k.team_id and flow_key = k.key and ${HELD}) as queued
     from flow_keys k order by k.team_id, k.key limit ?`,
    [MAX_METRIC_KEYS],
  );
  return rows.map((r) => ({
    teamId: r.team_id,
    key: r.key,
    inFlight: r.in_flight,
    queued: r.queued,
    throttled: Number(r.throttled),
  }));
}
