import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import type {
  AttemptRecord,
  PollConfig,
  TaskResult,
  TaskStatus,
  WebhookDeliveryRecord,
} from '../../tasks/task-types.ts';

/** One durable HTTP call and everything that happened to it. */
export const TaskSchema = defineEntity({
  name: 'Task',
  tableName: 'tasks',
  properties: {
    /** UUIDv7: time-ordered, so `ORDER BY id DESC` is newest first and cursors are stable. */
    id: p.uuid().primary(),
    teamId: p.uuid(),
    status: p.text().$type<TaskStatus>(),
    targetUrl: p.text(),
    method: p.text(),
    headers: p.json<Record<string, string>>(),
    body: p.text().nullable(),
    timeout: p.integer(),
    maxRetries: p.integer(),
    retryBackoff: p.text().$type<'exponential' | 'linear'>(),
    delayUntil: p.datetime().nullable(),
    priority: p.integer(),
    waitForSignal: p.boolean(),
    maxWaitTime: p.integer(),
    onCompleteUrl: p.text().nullable(),
    provider: p.text().nullable(),
    pollConfig: p.json<PollConfig>().nullable(),
    /**
     * SHA-256 (hex) of the callback id, the credential of the callback URL: the indexed look-up
     * (unique where not null, see `uniques`).
     */
    callbackIdHash: p.text().nullable(),
    /**
     * The callback id sealed with the encryption key, bound to this task: opened in memory at each
     * dispatch to substitute the callback URL. The plain id is only ever in the 201 response.
     */
    callbackIdSealed: p.text().nullable(),
    callbackConsumed: p.boolean().default(false),
    /** SHA-256 of the signal token; the token itself is only in the 201 response. */
    signalTokenHash: p.text().nullable(),
    signalConsumed: p.boolean().default(false),
    /**
     * The dispatch response of a task that then waits or polls (poll templates read it). Like
     * `result`, the jsonb holds all but the body: `body` and `bodyEncoding` live in the text
     * columns below (no byte sequence can fail a text write), and taskFromRow joins them back.
     */
    startResult: p.json<TaskResult>().nullable(),
    startResultBody: p.text().nullable(),
    startResultBodyEncoding: p.text().$type<TaskResult['bodyEncoding']>().nullable(),
    result: p.json<TaskResult>().nullable(),
    resultBody: p.text().nullable(),
    resultBodyEncoding: p.text().$type<TaskResult['bodyEncoding']>().nullable(),
    error: p.text().nullable(),
    /** JSON text of the last non-final callback payload or poll status (text: jsonb refuses \u0000). */
    progress: p.text().nullable(),
    retryCount: p.integer().default(0),
    attempts: p.json<AttemptRecord[]>(),
    webhookDeliveries: p.json<WebhookDeliveryRecord[]>(),
    /** The pg-boss job allowed to run the next attempt; stale or duplicate jobs never match. */
    dispatchJobId: p.uuid().nullable(),
    /** pg-boss retryCount of the job running the current attempt; null between attempts. */
    dispatchLease: p.integer().nullable(),
    cancelRequested: p.boolean().default(false),
    idempotencyKey: p.text().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    startedAt: p.datetime().nullable(),
    completedAt: p.datetime().nullable(),
    /** The pg-boss job allowed to run a polling task's next poll; stale or duplicate poll jobs never match. */
    pollJobId: p.uuid().nullable(),
    /** When a waiting task times out (maxWaitTime) or a polling one gives up (maxDuration). */
    deadlineAt: p.datetime().nullable(),
    /** The task this one replays (POST /v1/tasks/{id}/replay or a bulk replay); null otherwise. */
    replayOf: p.uuid().nullable(),
    /** When this task was last replayed; a bulk replay only copies tasks not replayed yet. */
    replayedAt: p.datetime().nullable(),
    /** The flow-control key whose limits apply to this task (default: the preset id), or null. */
    flowKey: p.text().nullable(),
    /** The scope ('task' | 'request') of the slot this task was granted, or null: see flow/. */
    flowSlot: p.text().$type<'task' | 'request'>().nullable(),
    /** Granted its next attempt by the key's hand-over; the claim consumes it. */
    flowGrant: p.boolean().default(false),
    /** Held back by its key's limits: pending with no dispatch job until a hand-over grants it. */
    flowHeld: p.boolean().default(false),
  },
  indexes: [
    { name: 'tasks_team_id_id_index', properties: ['teamId', 'id'] },
    { name: 'tasks_team_id_status_id_index', properties: ['teamId', 'status', 'id'] },
    { name: 'tasks_status_completed_at_index', properties: ['status', 'completedAt'] },
  ],
  // Partial: most tasks have neither credential, and a NULL needs no index entry (the migration
  // 2026-12-09-partial-credential-indexes).
  uniques: ['callback_id_hash', 'signal_token_hash'].map((column) => ({
    name: `tasks_${column}_unique`,
    expression: `create unique index "tasks_${column}_unique" on "tasks" ("${column}") where "${column}" is not null`,
  })),
});

export type Task = InferEntity<typeof TaskSchema>;
