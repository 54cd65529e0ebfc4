import { type TaskStatus, TERMINAL_STATUSES } from './task-types.ts';

/**
 * The status table: for each transition, the statuses it may start from. Every transition is a
 * conditional UPDATE `WHERE status IN (from)`, so two actors racing can never both win.
 */
export const TRANSITIONS = {
  /** A dispatch worker claims the task for an attempt. */
  claim: ['pending', 'delayed'],
  /** The attempt failed retryably: back to waiting for the next (delayed) job. */
  retry: ['processing'],
  /** The call succeeded and the task waits for a callback or signal. */
  wait: ['processing'],
  /** The call succeeded and the task polls the provider. */
  poll: ['processing'],
  /** A result arrived: from the call itself, a callback, a signal or polling. */
  complete: ['pending', 'delayed', 'processing', 'waiting', 'polling'],
  fail: ['pending', 'delayed', 'processing', 'waiting', 'polling'],
  expire: ['waiting', 'polling'],
  /** Cancel takes effect at once in these statuses; `processing` only flags `cancelRequested`. */
  cancel: ['pending', 'delayed', 'waiting', 'polling'],
} as const satisfies Record<string, readonly TaskStatus[]>;

export type Transition = keyof typeof TRANSITIONS;

export function isTerminal(status: TaskStatus): boolean {
  return (TERMINAL_STATUSES as readonly TaskStatus[]).includes(status);
}
