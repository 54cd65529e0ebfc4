import { useState } from 'preact/hooks';
import { ApiError, call, type Task, TERMINAL } from './api.ts';

/** Why 1 s × 30: a redelivery is sent within seconds; its record is re-read until it shows, then no more. */
const DELIVERY_CHECK_MS = 1000;
const DELIVERY_CHECKS = 30;

/** Cancel (an active task), replay (an ended one, opening the new task), redeliver its webhook. */
export function TaskActions(props: { task: Task; show: (task: Task) => void }) {
  const { task, show } = props;
  const [message, setMessage] = useState('');
  const ended = TERMINAL.has(task.status);
  const act = async (label: string, path: string, after: (body: { task: Task }) => void) => {
    try {
      after(await call<{ task: Task }>('POST', path));
      setMessage(`${label}: done.`);
    } catch (caught) {
      setMessage(
        caught instanceof ApiError && caught.status === 404 && label === 'Replay'
          ? 'Replay needs a server with POST /v1/tasks/{id}/replay.'
          : `${label} failed: ${(caught as Error).message}`,
      );
    }
  };
  const cancel = () => act('Cancel', `/v1/tasks/${task.id}/cancel`, (b) => show(b.task));
  const replay = () =>
    act('Replay', `/v1/tasks/${task.id}/replay`, (b) => {
      location.hash = `#/tasks/${b.task.id}`;
    });
  const redeliver = () =>
    act('Redeliver', `/v1/tasks/${task.id}/webhook/redeliver`, (b) => {
      show(b.task);
      void awaitNewDelivery(b.task, show);
    });
  return (
    <div class="actions">
      {!ended && (
        <button type="button" onClick={() => void cancel()}>
          Cancel
        </button>
      )}
      {ended && (
        <button type="button" onClick={() => void replay()}>
          Replay
        </button>
      )}
      {ended && task.status !== 'cancelled' && task.onCompleteUrl && (
        <button type="button" onClick={() => void redeliver()}>
          Redeliver webhook
        </button>
      )}
      {message && <span role="status">{message}</span>}
    </div>
  );
}

/** Re-reads a task after a redelivery until its new delivery record appears (a status never changes for it). */
async function awaitNewDelivery(task: Task, show: (task: Task) => void): Promise<void> {
  for (let i = 0; i < DELIVERY_CHECKS; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, DELIVERY_CHECK_MS));
    const { task: fresh } = await call<{ task: Task }>('GET', `/v1/tasks/${task.id}`);
    show(fresh);
    if (fresh.webhookDeliveries.length > task.webhookDeliveries.length) return;
  }
}
