import type { OutboundResult } from '../../dispatch/http-caller.ts';
import { isRetryableStatus } from '../../dispatch/outcome.ts';
import type { EncodedBody } from '../../dispatch/response-body.ts';
import { parseJsonOrUndefined, readPath } from '../../tasks/poll-template.ts';
import type { PollConfig } from '../../tasks/task-types.ts';

export type PollStep =
  | { kind: 'continue'; progress: unknown }
  | { kind: 'transient'; reason: string }
  | { kind: 'done'; progress: unknown }
  | { kind: 'failed'; error: string; progress: unknown };

/** Why 500: enough of a provider's error body to explain it, without storing a whole HTML page. */
const SNIPPET = 500;
const snippet = (text: string) => (text.length > SNIPPET ? `${text.slice(0, SNIPPET)}…` : text);

function describe(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * Pure: one status response → keep polling, done, failed, or a transient error (keep polling).
 * `$httpStatus` reads the HTTP status code (Stability answers 202 while running, 200 when done).
 */
export function decidePoll(config: PollConfig, result: OutboundResult): PollStep {
  if (!result.ok) {
    const f = result.failure;
    if (f.kind === 'timeout' || f.kind === 'network' || f.kind === 'dns')
      return { kind: 'transient', reason: f.message };
    return { kind: 'failed', error: `Polling the status URL failed: ${f.message}`, progress: null };
  }
  const { statusCode, body, bodyEncoding } = result.response;
  const json = bodyEncoding === 'utf8' ? parseJsonOrUndefined(body) : undefined;
  const progress = json ?? null;
  // An error quotes a text body; a binary one (base64) would say nothing readable.
  const quoted = bodyEncoding === 'utf8' ? snippet(body) : '(a binary body)';
  if (config.statusPath === '$httpStatus') {
    const value = String(statusCode);
    if (config.doneValues.includes(value)) return { kind: 'done', progress };
    if (config.failValues.includes(value)) {
      return { kind: 'failed', error: `Provider answered HTTP ${value}: ${quoted}`, progress };
    }
    return isRetryableStatus(statusCode)
      ? { kind: 'transient', reason: `HTTP ${value}` }
      : { kind: 'continue', progress };
  }
  if (isRetryableStatus(statusCode)) return { kind: 'transient', reason: `Status URL answered ${statusCode}` };
  if (statusCode >= 300) {
    return { kind: 'failed', error: `Status URL answered ${statusCode}: ${quoted}`, progress };
  }
  if (json === undefined) return { kind: 'failed', error: 'Status response is not JSON', progress: null };
  const raw = readPath(json, config.statusPath);
  if (raw === undefined || raw === null) {
    return { kind: 'failed', error: `statusPath "${config.statusPath}" is missing from the status response`, progress };
  }
  const value = String(raw);
  if (config.doneValues.includes(value)) return { kind: 'done', progress };
  if (config.failValues.includes(value)) {
    const detail = config.errorPath ? readPath(json, config.errorPath) : undefined;
    const error =
      detail !== undefined && detail !== null ? describe(detail) : `Provider reported ${config.statusPath} = ${value}`;
    return { kind: 'failed', error, progress };
  }
  return { kind: 'continue', progress };
}

/**
 * The final result's body: the JSON text of the value at resultPath (text), or the raw body as
 * read (text or base64) without one.
 */
export function resultBody(config: PollConfig, response: EncodedBody): EncodedBody {
  if (!config.resultPath) return { body: response.body, bodyEncoding: response.bodyEncoding };
  const json = response.bodyEncoding === 'utf8' ? parseJsonOrUndefined(response.body) : undefined;
  const value = readPath(json, config.resultPath);
  return { body: JSON.stringify(value ?? null), bodyEncoding: 'utf8' };
}
