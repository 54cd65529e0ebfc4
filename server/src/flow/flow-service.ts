import type { MikroORM } from '@mikro-orm/postgresql';
import { AppError } from '../shared/app-error.ts';
import { flowFigures, heldPosition } from '../tasks/store/flow.ts';
import { findTeamTask } from '../tasks/store/read.ts';
import type { FlowGate } from './flow-gate.ts';
import {
  deleteFlowKey,
  type FlowKeyChange,
  type FlowKeyRow,
  findFlowKey,
  listFlowKeys,
  recentGrants,
  setFlowKeyPaused,
  upsertFlowKey,
} from './store/flow-keys.ts';

/** A key as the API shows it: its limits and live figures. */
export type FlowKeyView = {
  key: string;
  concurrency: number | null;
  ratePerMinute: number | null;
  scope: 'task' | 'request';
  effectiveConcurrency: number | null;
  paused: boolean;
  pausedUntil: string | null;
  inFlight: number;
  queued: number;
  throttled: number;
  createdAt: string;
  updatedAt: string;
};

/** Why a task waits: `GET /v1/tasks/{id}/queue`. */
export type TaskQueueView = {
  flowKey: string | null;
  held: boolean;
  reason: 'concurrency' | 'rate' | 'paused' | null;
  position: number | null;
  retryAt: string | null;
};

export type FlowService = {
  upsert(teamId: string, key: string, change: FlowKeyChange): Promise<FlowKeyView>;
  list(teamId: string): Promise<FlowKeyView[]>;
  get(teamId: string, key: string): Promise<FlowKeyView>;
  delete(teamId: string, key: string): Promise<FlowKeyView>;
  setPaused(teamId: string, key: string, paused: boolean): Promise<FlowKeyView>;
  taskQueue(teamId: string, taskId: string): Promise<TaskQueueView>;
};

const notFound = (key: string) =>
  new AppError('not_found', `Flow key ${key} not found: create it with PUT /v1/flow-keys/${key}`);

function viewOf(row: FlowKeyRow, figures: { inFlight: number; queued: number } | undefined): FlowKeyView {
  return {
    key: row.key,
    concurrency: row.concurrency,
    ratePerMinute: row.ratePerMinute,
    scope: row.scope,
    effectiveConcurrency: row.concurrency == null ? null : (row.effectiveConcurrency ?? row.concurrency),
    paused: row.paused,
    pausedUntil: row.pauseActive && row.pausedUntil ? row.pausedUntil.toISOString() : null,
    inFlight: figures?.inFlight ?? 0,
    queued: figures?.queued ?? 0,
    throttled: row.throttled,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

const NOT_HELD = { held: false, reason: null, position: null, retryAt: null } as const;

/** The API's use cases for flow keys; every change that may free capacity wakes the key's hand-over. */
export function createFlowService(orm: MikroORM, gate: FlowGate): FlowService {
  const withFigures = async (teamId: string, rows: FlowKeyRow[]) => {
    const figures = await flowFigures(
      orm.em.fork(),
      teamId,
      rows.map((r) => r.key),
    );
    return rows.map((r) => viewOf(r, figures.get(r.key)));
  };
  const one = async (teamId: string, row: FlowKeyRow | null, key: string) => {
    if (!row) throw notFound(key);
    return (await withFigures(teamId, [row]))[0] as FlowKeyView;
  };
  return {
    async upsert(teamId, key, change) {
      const row = await upsertFlowKey(orm.em.fork(), teamId, key, change);
      gate.wake(teamId, key);
      return one(teamId, row, key);
    },
    list: async (teamId) => withFigures(teamId, await listFlowKeys(orm.em.fork(), teamId)),
    get: async (teamId, key) => one(teamId, await findFlowKey(orm.em.fork(), teamId, key), key),
    async delete(teamId, key) {
      const row = await deleteFlowKey(orm.em.fork(), teamId, key);
      // Its held tasks now run without limits: the hand-over grants them all.
      if (row) gate.wake(teamId, key);
      return one(teamId, row, key);
    },
    async setPaused(teamId, key, paused) {
      const row = await setFlowKeyPaused(orm.em.fork(), teamId, key, paused);
      if (row && !paused) gate.wake(teamId, key);
      return one(teamId, row, key);
    },
    taskQueue: (teamId, taskId) => taskQueue(orm, teamId, taskId),
  };
}

async function taskQueue(orm: MikroORM, teamId: string, taskId: string): Promise<TaskQueueView> {
  const em = orm.em.fork();
  const task = await findTeamTask(em, teamId, taskId);
  if (!task) throw new AppError('not_found', `Task ${taskId} not found`);
  const flowKey = task.flowKey ?? null;
  const position = flowKey ? await heldPosition(em, teamId, taskId) : null;
  if (!flowKey || position == null) return { flowKey, ...NOT_HELD };
  const limits = await findFlowKey(em, teamId, flowKey);
  if (limits?.paused) return { flowKey, held: true, reason: 'paused', position, retryAt: null };
  if (limits?.pauseActive) {
    return { flowKey, held: true, reason: 'paused', position, retryAt: limits.pausedUntil?.toISOString() ?? null };
  }
  if (limits?.ratePerMinute != null) {
    const recent = await recentGrants(em, teamId, flowKey);
    if (recent.count >= limits.ratePerMinute) {
      return { flowKey, held: true, reason: 'rate', position, retryAt: recent.freesAt?.toISOString() ?? null };
    }
  }
  return { flowKey, held: true, reason: 'concurrency', position, retryAt: null };
}
