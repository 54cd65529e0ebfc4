import { useEffect, useState } from 'preact/hooks';
import { call, pretty, shortTime, type Task } from './api.ts';
import { Code } from './code.tsx';
import { MediaPreviews } from './media.tsx';

export function Attempts(props: { task: Task }) {
  const { attempts } = props.task;
  return (
    <section aria-labelledby="attempts-h">
      <h2 id="attempts-h">
        Attempts ({attempts.length} of at most {props.task.maxRetries + 1})
      </h2>
      {attempts.length === 0 ? (
        <p>No attempt yet.</p>
      ) : (
        <ol class="timeline">
          {attempts.map((a) => (
            <li key={a.number}>
              <strong>#{a.number}</strong> {shortTime(a.startedAt)} · {a.durationMs} ms ·{' '}
              {a.statusCode === null ? 'no response' : `HTTP ${a.statusCode}`}
              {a.error && <span class="error"> · {a.error}</span>}
              {a.willRetry && ' · will retry'}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

export function ResultView(props: { task: Task }) {
  const { result } = props.task;
  if (!result) return null;
  const contentType = Object.entries(result.headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1] ?? '';
  return (
    <section aria-labelledby="result-h">
      <h2 id="result-h">Result</h2>
      <p>
        HTTP {result.statusCode} · {result.duration} ms · {result.bodyEncoding}
        {result.bodyTruncated && ' · truncated'}
      </p>
      <MediaPreviews body={result.body} encoding={result.bodyEncoding} contentType={contentType} />
      <Code data-testid="result-body">
        {result.bodyEncoding === 'utf8' ? pretty(result.body) : `${result.body.slice(0, 2000)}…`}
      </Code>
    </section>
  );
}

export function Deliveries(props: { task: Task }) {
  const deliveries = props.task.webhookDeliveries;
  if (!props.task.onCompleteUrl) return null;
  return (
    <section aria-labelledby="deliveries-h">
      <h2 id="deliveries-h">Webhook deliveries</h2>
      {deliveries.length === 0 ? (
        <p>None yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Attempt</th>
              <th scope="col">Sent</th>
              <th scope="col">Answer</th>
              <th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody data-testid="deliveries">
            {deliveries.map((d, i) => (
              <tr key={`${d.webhookId}-${d.attempt}-${i}`}>
                <td>{d.attempt}</td>
                <td>{shortTime(d.sentAt)}</td>
                <td>{d.statusCode === null ? (d.error ?? 'no response') : `HTTP ${d.statusCode}`}</td>
                <td>{d.durationMs} ms</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

type QueueInfo = {
  flowKey: string | null;
  held: boolean;
  reason: string | null;
  position: number | null;
  retryAt: string | null;
};

/** Why a pending task waits (GET /v1/tasks/:id/queue); nothing on a server without flow control. */
export function QueuePosition(props: { task: Task }) {
  const [info, setInfo] = useState<QueueInfo | null>(null);
  const pending = props.task.status === 'pending';
  useEffect(() => {
    if (!pending) return setInfo(null);
    call<QueueInfo>('GET', `/v1/tasks/${props.task.id}/queue`)
      .then(setInfo)
      .catch(() => setInfo(null));
  }, [props.task.id, pending, props.task.updatedAt]);
  if (!info?.held) return null;
  return (
    <p role="status">
      Held by flow key <span class="mono">{info.flowKey}</span> ({info.reason}), position {info.position}
      {info.retryAt && `, until ${shortTime(info.retryAt)}`}.
    </p>
  );
}
