import type { EntityManager } from '@mikro-orm/postgresql';
import { STUCK_MARGIN_SECONDS } from '../stuck-attempts.ts';
import { LIFECYCLE } from '../task-status.ts';
import { inList, interruptedAttempt } from './fragments.ts';
import { one } from './run.ts';
import { STUCK } from './stuck-attempts.ts';

/** A client's cancel and the expiry of a task waiting for a result from outside. */

/** The stuck attempt a cancel ends (see cancelTask; the bulk cancel in bulk.ts records the same). */
export const CANCELLED_STUCK = interruptedAttempt(
  `Interrupted: no outcome within the attempt timeout plus ${STUCK_MARGIN_SECONDS} s; the task was cancelled`,
  false,
);

/**
 * A client's cancel: at once from pending/delayed/waiting/polling, from processing between
 * attempts (no lease: a retry waiting for its backoff), and from an attempt that is stuck (held
 * past its timeout plus STUCK_MARGIN_SECONDS): that one is recorded as interrupted and its lease
 * dropped, so the late worker's own UPDATE matches nothing. An attempt in flight is not touched.
 */
export function cancelTask(em: EntityManager, teamId: string, taskId: string) {
  return one(
    em,
    `update tasks set status = 'cancelled', completed_at = now(), updated_at = now(), dispatch_lease = null,
       attempts = case when ${STUCK} then attempts || ${CANCELLED_STUCK} else attempts end
     where id = ? and team_id = ?
       and (status in (${inList(LIFECYCLE.cancel.from)}) or (status = 'processing' and dispatch_lease is null) or (${STUCK}))
     returning *`,
    [taskId, teamId],
  );
}

/**
 * waiting → timeout at maxWaitTime; polling (incl. hybrid callback + polling) → timeout at
 * maxDuration. Only once the deadline has passed, so an early or duplicate expire job is harmless.
 */
export function expireTask(em: EntityManager, taskId: string) {
  return one(
    em,
    `update tasks set status = 'timeout', completed_at = now(), updated_at = now(),
       error = case when status = 'waiting'
         then 'No callback or signal within maxWaitTime (' || max_wait_time || ' s)'
         else 'Polling exceeded maxDuration (' || (poll_config->>'maxDuration') || ' s) without a final status' end
     where id = ? and status in ('waiting', 'polling') and deadline_at <= now() returning *`,
    [taskId],
  );
}

/**
 * Flags a cancel for a task whose attempt is in flight: it ends as cancelled when that attempt
 * ends (attempts.ts reads cancel_requested). Null when the task is not `processing`.
 */
export function flagCancelRequested(em: EntityManager, teamId: string, taskId: string) {
  return one(
    em,
    `update tasks set cancel_requested = true, updated_at = now()
     where id = ? and team_id = ? and status = 'processing' returning *`,
    [taskId, teamId],
  );
}
