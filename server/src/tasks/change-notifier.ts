import type pg from 'pg';
import { LOCAL_ORIGIN, TASK_CHANGED_CHANNEL, taskChangedPayloads } from './task-events.ts';

/**
 * NOTIFYed (payload: the sender's origin) when a dispatch job due at once was committed: wakes
 * every other instance's dispatch pump; the sender's own pump was woken in-process.
 */
export const DISPATCH_DUE_CHANNEL = 'asyncqueue_dispatch_due';

export type ChangeNotifier = {
  /** A task transition committed by this process (the ids of one statement share payloads, see task-events.ts). */
  taskChanged(taskId: string): void;
  /** A dispatch job due now was committed. */
  dispatchDue(): void;
  /** Sends what is queued (at shutdown). */
  flush(): Promise<void>;
};

/**
 * NOTIFYs sent after the commit, in their own statement, instead of inside the transaction that
 * made the change. Why: PostgreSQL serializes every committing transaction that has NOTIFYs on one
 * lock held through its WAL flush, so changes that notify cannot share a disk flush (group commit);
 * with three notifying commits per task that lock capped a whole server at one fsync per commit. A
 * NOTIFY-only statement on the side pool (synchronous_commit=off) does not wait for its commit record
 * to reach the disk, so it holds the lock for microseconds.
 * Everything queued while a statement is in flight goes in the next one. A NOTIFY is a hint: if the
 * process dies between the commit and its NOTIFY, other instances' long-polls answer at their
 * deadline with the current state and pumps find the job at their next poll; nothing is lost.
 */
export function createChangeNotifier(pool: pg.Pool, warn: (message: string) => void): ChangeNotifier {
  let changed: string[] = [];
  let dispatchQueued = false;
  let sending: Promise<void> | null = null;

  const send = async (): Promise<void> => {
    while (changed.length > 0 || dispatchQueued) {
      const payloads = taskChangedPayloads(changed, LOCAL_ORIGIN);
      const batch = { channels: payloads.map(() => TASK_CHANGED_CHANNEL), payloads };
      if (dispatchQueued) {
        batch.channels.push(DISPATCH_DUE_CHANNEL);
        batch.payloads.push(LOCAL_ORIGIN);
      }
      changed = [];
      dispatchQueued = false;
      await pool
        .query('select pg_notify(c, p) from unnest($1::text[], $2::text[]) as n(c, p)', [
          batch.channels,
          batch.payloads,
        ])
        .catch((error: unknown) => warn(`NOTIFY failed (long-polls elsewhere answer at their deadline): ${error}`));
    }
    sending = null;
  };
  const schedule = () => {
    // After this turn of the event loop: what the caller does next (e.g. the dispatch's HTTP call)
    // goes first, and everything queued meanwhile shares the statement.
    sending ??= new Promise<void>((resolve) => setImmediate(resolve)).then(send);
  };
  return {
    taskChanged(taskId) {
      changed.push(taskId);
      schedule();
    },
    dispatchDue() {
      dispatchQueued = true;
      schedule();
    },
    flush: async () => {
      await sending;
    },
  };
}
