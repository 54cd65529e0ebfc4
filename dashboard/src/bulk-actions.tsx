import { useState } from 'preact/hooks';
import { ApiError, call } from './api.ts';

export type TaskFilter = {
  status?: string;
  provider?: string;
  flowKey?: string;
  createdAfter?: string;
  createdBefore?: string;
};

/** Cancel or replay every task that matches the current filter (POST /v1/tasks/cancel | replay). */
export function BulkActions(props: { filter: TaskFilter; onDone: () => void }) {
  const [message, setMessage] = useState('');
  const fields = Object.fromEntries(Object.entries(props.filter).filter(([, v]) => v));
  const empty = Object.keys(fields).length === 0;
  const run = async (action: 'cancel' | 'replay') => {
    if (!confirm(`${action === 'cancel' ? 'Cancel' : 'Replay'} every task matching the filter?`)) return;
    try {
      const out = await call<{ matched: number; changed: number; hasMore: boolean }>(
        'POST',
        `/v1/tasks/${action}`,
        fields,
      );
      setMessage(
        `${action}: ${out.changed} of ${out.matched} matching tasks changed${out.hasMore ? ' (more match: run it again)' : ''}.`,
      );
      props.onDone();
    } catch (caught) {
      setMessage(
        caught instanceof ApiError && caught.status === 404
          ? 'Bulk actions need a server with POST /v1/tasks/cancel and /v1/tasks/replay.'
          : (caught as Error).message,
      );
    }
  };
  return (
    <section class="bulk" aria-label="Bulk actions">
      <button type="button" disabled={empty} onClick={() => void run('cancel')}>
        Cancel all matching
      </button>
      <button type="button" disabled={empty} onClick={() => void run('replay')}>
        Replay all matching
      </button>
      {empty && <span class="muted">Set a filter first.</span>}
      {message && <span role="status">{message}</span>}
    </section>
  );
}
