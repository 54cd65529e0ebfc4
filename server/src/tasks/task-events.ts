import { randomBytes } from 'node:crypto';

/** Why one channel: one LISTEN connection per process fans out to waiters keyed by task id. */
export const TASK_CHANGED_CHANNEL = 'asyncqueue_task_changed';

/**
 * Names this process in the NOTIFYs of the transitions it publishes to its own long-polls (payload
 * `<task id>:<origin>`): its listener then leaves those waiters to the publish, which carries the
 * row, instead of waking them to re-read (see task-change-listener.ts).
 */
export const LOCAL_ORIGIN = randomBytes(6).toString('hex');
