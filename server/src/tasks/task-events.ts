import { randomBytes } from 'node:crypto';

/** Why one channel: one LISTEN connection per process fans out to waiters keyed by task id. */
export const TASK_CHANGED_CHANNEL = 'asyncqueue_task_changed';

/**
 * Names this process in the NOTIFYs of the transitions it publishes to its own long-polls (payload
 * `<task id>[,<task id>…]:<origin>`): its listener then leaves those waiters to the publish, which
 * carries the row, instead of waking them to re-read (see task-change-listener.ts).
 */
export const LOCAL_ORIGIN = randomBytes(6).toString('hex');

/**
 * Why 200: task ids named by one task-changed NOTIFY. PostgreSQL refuses a payload of 8,000 bytes
 * or more; 200 ids of 36 characters and their commas are 7,399, plus the origin. A batch of 1,000
 * created tasks is then 5 notifications, each delivered to every listening process, not 1,000.
 */
export const IDS_PER_NOTIFICATION = 200;

/** The payloads naming `taskIds` (changed by the process `origin`), IDS_PER_NOTIFICATION ids each. */
export function taskChangedPayloads(taskIds: readonly string[], origin: string): string[] {
  const payloads: string[] = [];
  for (let i = 0; i < taskIds.length; i += IDS_PER_NOTIFICATION) {
    payloads.push(`${taskIds.slice(i, i + IDS_PER_NOTIFICATION).join(',')}:${origin}`);
  }
  return payloads;
}

/** The task ids and the origin of a task-changed payload. */
export function parseTaskChanged(payload: string): { taskIds: string[]; origin: string } {
  const colon = payload.lastIndexOf(':');
  const ids = colon < 0 ? payload : payload.slice(0, colon);
  return { taskIds: ids === '' ? [] : ids.split(','), origin: colon < 0 ? '' : payload.slice(colon + 1) };
}
