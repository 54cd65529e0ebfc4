import type { EntityManager } from '@mikro-orm/postgresql';
import { execute } from '../../db/prepared.ts';

/** The statements on `flow_keys` (a team's limits per key) and `flow_grants` (the rate window). */

/**
 * SQL condition on a `flow_keys` row (alias `k`): the key holds tasks back now (a limit, a pause,
 * or a 429's pause still running). The create (isFlowKeyLimited) and the claim (tasks/store/claim.ts)
 * ask the same question.
 */
export const limitsInForce = (k: string) =>
  `(${k}.concurrency is not null or ${k}.rate_per_minute is not null or ${k}.paused or ${k}.paused_until > now())`;

export type FlowScope = 'task' | 'request';

export type FlowKeyRow = {
  teamId: string;
  key: string;
  concurrency: number | null;
  ratePerMinute: number | null;
  scope: FlowScope;
  effectiveConcurrency: number | null;
  paused: boolean;
  pausedUntil: Date | null;
  /** pausedUntil is still ahead (read with the database's clock). */
  pauseActive: boolean;
  throttled: number;
  createdAt: Date;
  updatedAt: Date;
};

const COLUMNS = `team_id, key, concurrency, rate_per_minute, scope, effective_concurrency, paused, paused_until,
  coalesce(paused_until > now(), false) as pause_active, throttled::float8 as throttled, created_at, updated_at`;

type Raw = Record<string, unknown>;
const date = (v: unknown) => (v == null ? null : new Date(v as string));

function rowOf(r: Raw): FlowKeyRow {
  return {
    teamId: r.team_id as string,
    key: r.key as string,
    concurrency: (r.concurrency as number | null) ?? null,
    ratePerMinute: (r.rate_per_minute as number | null) ?? null,
    scope: r.scope as FlowScope,
    effectiveConcurrency: (r.effective_concurrency as number | null) ?? null,
    paused: r.paused as boolean,
    pausedUntil: date(r.paused_until),
    pauseActive: r.pause_active as boolean,
    throttled: Number(r.throttled),
    createdAt: date(r.created_at) as Date,
    updatedAt: date(r.updated_at) as Date,
  };
}

export type FlowKeyChange = {
  /** undefined: keep; null: clear. */
  concurrency?: number | null | undefined;
  ratePerMinute?: number | null | undefined;
  scope?: FlowScope | undefined;
};

/**
 * Creates or changes a key's limits; fields left out keep their value. A new concurrency resets the
 * adaptive one (effective_concurrency) to it.
 */
export async function upsertFlowKey(em: EntityManager, teamId: string, key: string, change: FlowKeyChange) {
  const keepConcurrency = change.concurrency === undefined;
  const keepRate = change.ratePerMinute === undefined;
  const rows = await execute<Raw>(
    em,
    `insert into flow_keys as k (team_id, key, concurrency, rate_per_minute, scope, effective_concurrency)
     values (?, ?, ?::int, ?::int, coalesce(?::text, 'task'), ?::int)
     on conflict (team_id, key) do update set
       concurrency = case when ?::boolean then k.concurrency else excluded.concurrency end,
       effective_concurrency = case when ?::boolean then k.effective_concurrency else excluded.concurrency end,
       rate_per_minute = case when ?::boolean then k.rate_per_minute else excluded.rate_per_minute end,
       scope = coalesce(?::text, k.scope), updated_at = now()
     returning ${COLUMNS}`,
    [
      teamId,
      key,
      change.concurrency ?? null,
      change.ratePerMinute ?? null,
      change.scope ?? null,
      change.concurrency ?? null,
      keepConcurrency,
      keepConcurrency,
      keepRate,
      change.scope ?? null,
    ],
  );
  return rowOf(rows[0] as Raw);
}

/** Whether the key has a limit or is paused now (a PK probe made by each create on a flow key). */
export async function isFlowKeyLimited(em: EntityManager, teamId: string, key: string): Promise<boolean> {
  const rows = await execute(
    em,
    `select 1 as limited from flow_keys k where k.team_id = ? and k.key = ? and ${limitsInForce('k')}`,
    [teamId, key],
  );
  return rows.length > 0;
}

export async function findFlowKey(em: EntityManager, teamId: string, key: string): Promise<FlowKeyRow | null> {
  const rows = await execute<Raw>(em, `select ${COLUMNS} from flow_keys where team_id = ? and key = ?`, [teamId, key]);
  return rows[0] ? rowOf(rows[0]) : null;
}

/** Why 1,000: a team configures a key per provider account or model, not per task; bounds the response. */
export const MAX_LISTED_FLOW_KEYS = 1000;

export async function listFlowKeys(em: EntityManager, teamId: string): Promise<FlowKeyRow[]> {
  const rows = await execute<Raw>(em, `select ${COLUMNS} from flow_keys where team_id = ? order by key limit ?`, [
    teamId,
    MAX_LISTED_FLOW_KEYS,
  ]);
  return rows.map(rowOf);
}

export async function deleteFlowKey(em: EntityManager, teamId: string, key: string): Promise<FlowKeyRow | null> {
  const rows = await execute<Raw>(em, `delete from flow_keys where team_id = ? and key = ? returning ${COLUMNS}`, [
    teamId,
    key,
  ]);
  return rows[0] ? rowOf(rows[0]) : null;
}

export async function setFlowKeyPaused(em: EntityManager, teamId: string, key: string, paused: boolean) {
  const rows = await execute<Raw>(
    em,
    `update flow_keys set paused = ?, updated_at = now() where team_id = ? and key = ? returning ${COLUMNS}`,
    [paused, teamId, key],
  );
  return rows[0] ? rowOf(rows[0]) : null;
}

/**
 * Serializes the hand-overs of one key for the rest of the transaction. An advisory lock, not the
 * row's: a key without a row (deleted, or never configured) is handed over too.
 */
export async function lockFlowKey(em: EntityManager, teamId: string, key: string): Promise<void> {
  await execute(em, `select pg_advisory_xact_lock(hashtextextended(? || '/' || ?, 0)) as locked`, [teamId, key]);
}

/**
 * How long a grant counts against `ratePerMinute`: the minute, plus 1 s because the call itself
 * leaves a fetch and a claim after its grant, and a later grant can leave faster; without it two
 * bursts a minute apart by grant time land closer than a minute apart at the provider (measured:
 * a window of 2× the rate). 1 s costs under 2 % of the rate.
 */
const RATE_WINDOW = `interval '61 seconds'`;

/** Grants still in the rate window, and when the oldest of them leaves it. */
export async function recentGrants(em: EntityManager, teamId: string, key: string) {
  const rows = await execute<{ n: number; frees_at: string | null }>(
    em,
    `select count(*)::int as n, min(granted_at) + ${RATE_WINDOW} as frees_at
     from flow_grants where team_id = ? and flow_key = ? and granted_at > now() - ${RATE_WINDOW}`,
    [teamId, key],
  );
  return { count: rows[0]?.n ?? 0, freesAt: date(rows[0]?.frees_at) };
}

/** Logs `count` grants now, dropping the key's entries that left the window. */
export async function recordGrants(em: EntityManager, teamId: string, key: string, count: number): Promise<void> {
  await execute(
    em,
    `with old as (delete from flow_grants where team_id = ? and flow_key = ? and granted_at <= now() - ${RATE_WINDOW})
     insert into flow_grants (team_id, flow_key, granted_at) select ?, ?, now() from generate_series(1, ?::int)`,
    [teamId, key, teamId, key, count],
  );
}

/**
 * A 429 on the key: pauses it until `pauseMs` from now (never shortening a longer pause), halves
 * its effective concurrency (at least 1) and counts it. False when the key has no limits row: then
 * the 429 is an ordinary retry of the task.
 */
export async function throttleFlowKey(em: EntityManager, teamId: string, key: string, pauseMs: number) {
  const rows = await execute(
    em,
    `update flow_keys set throttled = throttled + 1, updated_at = now(),
       paused_until = greatest(coalesce(paused_until, now()), now() + make_interval(secs => ?::float8 / 1000)),
       effective_concurrency = case when concurrency is null then null
         else greatest(1, coalesce(effective_concurrency, concurrency) / 2) end
     where team_id = ? and key = ? returning key`,
    [pauseMs, teamId, key],
  );
  return rows.length > 0;
}

/** A success on the key: its effective concurrency climbs back by one, up to its concurrency. */
export async function recoverFlowKey(em: EntityManager, teamId: string, key: string): Promise<boolean> {
  const rows = await execute(
    em,
    `update flow_keys set effective_concurrency = effective_concurrency + 1, updated_at = now()
     where team_id = ? and key = ? and effective_concurrency < concurrency returning key`,
    [teamId, key],
  );
  return rows.length > 0;
}
