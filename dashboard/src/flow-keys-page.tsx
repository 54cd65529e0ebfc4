import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, shortTime } from './api.ts';

type FlowKey = {
  key: string;
  concurrency: number | null;
  ratePerMinute: number | null;
  scope: string;
  inFlight: number;
  queued: number;
  effectiveConcurrency: number | null;
  /** Paused by POST …/pause until resumed. */
  paused?: boolean;
  /** A 429 paused the key until then. */
  pausedUntil: string | null;
  throttled: number;
};

/** Why 2 s: the live figures (in flight, queued) of a key move with every dispatch; one small read. */
const REFRESH_MS = 2000;

/** Flow keys: limits and live figures, set/clear limits, pause and resume (GET/PUT/DELETE /v1/flow-keys). */
export function FlowKeysPage() {
  const [keys, setKeys] = useState<FlowKey[] | null>(null);
  const [missing, setMissing] = useState(false);
  const [message, setMessage] = useState('');
  const load = () =>
    call<Record<string, unknown> | FlowKey[]>('GET', '/v1/flow-keys')
      .then((body) => setKeys(listOf(body)))
      .catch((caught: unknown) => {
        if (caught instanceof ApiError && caught.status === 404) setMissing(true);
        else setMessage((caught as Error).message);
      });
  useEffect(() => {
    if (missing) return;
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [missing]);
  const run = async (method: string, path: string, body?: unknown) => {
    try {
      await call(method, path, body);
      setMessage('Saved.');
      await load();
    } catch (caught) {
      setMessage((caught as Error).message);
    }
  };
  const save = (event: Event) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const num = (name: string) => (data.get(name) ? Number(data.get(name)) : null);
    const key = encodeURIComponent(String(data.get('key')));
    void run('PUT', `/v1/flow-keys/${key}`, {
      concurrency: num('concurrency'),
      ratePerMinute: num('ratePerMinute'),
      scope: data.get('scope'),
    });
  };
  if (missing) {
    return (
      <>
        <h1>Flow keys</h1>
        <p>This server has no flow control yet (GET /v1/flow-keys answered 404).</p>
      </>
    );
  }
  return (
    <>
      <h1>Flow keys</h1>
      <FlowKeyForm save={save} />
      {message && <p role="status">{message}</p>}
      {keys && keys.length === 0 && <p>No flow keys with limits yet.</p>}
      {keys && keys.length > 0 && <FlowKeyTable keys={keys} run={run} />}
    </>
  );
}

function FlowKeyTable(props: { keys: FlowKey[]; run: (method: string, path: string) => Promise<void> }) {
  return (
    <div class="scroll">
      <table>
        <thead>
          <tr>
            {[
              'Key',
              'Concurrency',
              'Per minute',
              'Scope',
              'In flight',
              'Queued',
              'Effective',
              'Throttled',
              'Paused until',
            ].map((h) => (
              <th scope="col" key={h}>
                {h}
              </th>
            ))}
            <th scope="col">
              <span class="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {props.keys.map((k) => {
            const path = `/v1/flow-keys/${encodeURIComponent(k.key)}`;
            return (
              <tr key={k.key}>
                <td class="mono">{k.key}</td>
                <td>{k.concurrency ?? '—'}</td>
                <td>{k.ratePerMinute ?? '—'}</td>
                <td>{k.scope}</td>
                <td>{k.inFlight}</td>
                <td>{k.queued}</td>
                <td>{k.effectiveConcurrency ?? '—'}</td>
                <td>{k.throttled}</td>
                <td>{k.paused ? 'yes' : 'no'}</td>
                <td>{shortTime(k.pausedUntil)}</td>
                <td>
                  {k.paused ? (
                    <button type="button" onClick={() => void props.run('POST', `${path}/resume`)}>
                      Resume
                    </button>
                  ) : (
                    <button type="button" onClick={() => void props.run('POST', `${path}/pause`)}>
                      Pause
                    </button>
                  )}{' '}
                  <button type="button" onClick={() => void props.run('DELETE', path)} aria-label={`Delete ${k.key}`}>
                    Delete
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function FlowKeyForm(props: { save: (event: Event) => void }) {
  return (
    <form class="inline" onSubmit={props.save} aria-label="Set a flow key's limits">
      <label for="fk-key">Key</label>
      <input id="fk-key" name="key" required pattern="[A-Za-z0-9._:\-]{1,128}" />
      <label for="fk-concurrency">Concurrency</label>
      <input id="fk-concurrency" name="concurrency" type="number" min={1} max={10000} />
      <label for="fk-rate">Requests a minute</label>
      <input id="fk-rate" name="ratePerMinute" type="number" min={1} max={1000000} />
      <label for="fk-scope">Scope</label>
      <select id="fk-scope" name="scope">
        <option value="task">task</option>
        <option value="request">request</option>
      </select>
      <button type="submit">Save limits</button>
    </form>
  );
}

/** The list, whether the answer is the array itself or an object holding it (`{flowKeys: […]}`). */
function listOf(body: Record<string, unknown> | FlowKey[]): FlowKey[] {
  if (Array.isArray(body)) return body;
  return (Object.values(body).find(Array.isArray) as FlowKey[] | undefined) ?? [];
}
