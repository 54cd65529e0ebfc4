import type { Task } from '../../../sdk/src/index.ts';

const EXPLAIN: Record<string, string> = {
  pending: 'accepted by AsyncQueue, queued for a worker',
  delayed: 'scheduled for later',
  processing: 'calling the provider',
  waiting: 'provider accepted the job; waiting for its callback',
  polling: 'provider accepted the job; polling its status URL',
  completed: 'done',
  failed: 'failed',
  timeout: 'timed out',
  cancelled: 'cancelled',
};

/** One line per change, with the time since the demo created its tasks. */
export function createProgressPrinter(write: (line: string) => void, startedAt: number) {
  const last = new Map<string, string>();
  const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1).padStart(5)}s`;
  return {
    /** Prints the task's status when it changed, and the provider's status while polling. */
    update(label: string, task: Task): void {
      // The provider's own status is news while AsyncQueue polls it; afterwards it is just history.
      const progress = task.status === 'polling' ? providerStatus(task.progress) : undefined;
      const key = `${task.status}|${progress ?? ''}`;
      if (last.get(label) === key) return;
      const statusChanged = last.get(label)?.split('|')[0] !== task.status;
      last.set(label, key);
      const note = statusChanged ? EXPLAIN[task.status] : undefined;
      const detail = [note, progress && `provider says "${progress}"`].filter(Boolean).join(' · ');
      write(`[${elapsed()}] ${label.padEnd(11)} ${task.status.padEnd(10)} ${detail}`.trimEnd());
    },
    elapsed,
  };
}

/** The `status` field of a poll's last status body, when there is one. */
function providerStatus(progress: unknown): string | undefined {
  if (typeof progress !== 'object' || progress === null) return undefined;
  const status = (progress as { status?: unknown }).status;
  const percent = (progress as { percent?: unknown }).percent;
  if (typeof status !== 'string') return undefined;
  return typeof percent === 'number' ? `${status} ${percent}%` : status;
}

/** The interesting part of a result body: parsed JSON when it is JSON, else the text. */
export function resultSummary(task: Task): string {
  const body = task.result?.body ?? '';
  try {
    const parsed = JSON.parse(body) as { output?: unknown };
    return JSON.stringify(parsed.output ?? parsed);
  } catch {
    return body;
  }
}
