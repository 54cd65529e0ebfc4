import { type TaskStatus, TERMINAL_STATUSES } from './task-types.ts';

const ACTIVE = ['pending', 'delayed', 'processing', 'waiting', 'polling'] as const satisfies TaskStatus[];

/**
 * The lifecycle table: every way a task changes, one entry each. `from`: the statuses its store
 * statement accepts (every change is a conditional UPDATE `WHERE status IN (from)`, so two actors
 * racing can never both win); `to`: where it may leave the task; `jobs`: whether it always brings
 * jobs of its own. The lifecycle (task-lifecycle.ts) reads `to` and `jobs` to decide whether the
 * change needs a transaction: a `to` that sends the completion webhook, or `jobs`.
 */
export const LIFECYCLE = {
  /** A dispatch worker claims the task for an attempt (inside pg-boss's fetch: store/claim.ts). */
  claim: { from: ['pending', 'delayed'], to: ['processing'], jobs: false },
  /** The attempt failed retryably: its next dispatch job is enqueued with the change. */
  retry: { from: ['processing'], to: ['processing'], jobs: true },
  /** The call succeeded and the task waits for a callback or signal: its expiry job. */
  wait: { from: ['processing'], to: ['waiting'], jobs: true },
  /** The call succeeded and the task polls the provider: its expiry and first poll jobs. */
  poll: { from: ['processing'], to: ['polling'], jobs: true },
  /**
   * The provider said "not now" (429) to a task of a flow key: back in line as `pending`, held by
   * its key without a job (the key's hand-over sends it again) and without spending a retry.
   */
  throttle: { from: ['processing'], to: ['pending'], jobs: false },
  /** A result arrived: from the call itself, a callback, a signal or polling. */
  complete: { from: ACTIVE, to: ['completed'], jobs: false },
  fail: { from: ACTIVE, to: ['failed'], jobs: false },
  /** A non-final callback or poll status: no status change, the row's progress only. */
  progress: { from: ACTIVE, to: [], jobs: false },
  expire: { from: ['waiting', 'polling'], to: ['timeout'], jobs: false },
  /** Cancel takes effect at once in these statuses; `processing` only flags `cancelRequested`. */
  cancel: { from: ['pending', 'delayed', 'waiting', 'polling'], to: ['cancelled'], jobs: false },
  /** A held attempt ends as cancelled (a cancel was requested while it ran, or it is stuck). */
  cancelAttempt: { from: ['processing'], to: ['cancelled'], jobs: false },
} as const satisfies Record<string, { from: readonly TaskStatus[]; to: readonly TaskStatus[]; jobs: boolean }>;

export type Transition = keyof typeof LIFECYCLE;

export function isTerminal(status: TaskStatus): boolean {
  return (TERMINAL_STATUSES as readonly TaskStatus[]).includes(status);
}
