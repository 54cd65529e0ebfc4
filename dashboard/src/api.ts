/** The dashboard's only way to the server: same-origin fetches, the session cookie, the CSRF token. */

// One vocabulary with the server: the task shape of the API (the SDK's generated types) and its statuses.
export type { Task } from '../../sdk/src/generated/api-types.ts';
export { TASK_STATUSES } from '../../server/src/tasks/task-types.ts';

import { TERMINAL_STATUSES } from '../../server/src/tasks/task-types.ts';
export const TERMINAL: ReadonlySet<string> = new Set(TERMINAL_STATUSES);

/** An answer that is not 2xx: the server's `{error}` message, and its status (404 = route not there yet). */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

let csrfToken = '';
let onSignedOut: () => void = () => {};

export function setSession(token: string, signedOut: () => void): void {
  csrfToken = token;
  onSignedOut = signedOut;
}

/** A JSON request to this server; state-changing ones carry the CSRF token. A 401 ends the session. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const parsed = text ? safeJson(text) : null;
  if (!res.ok) {
    const message = (parsed as { error?: string } | null)?.error ?? `HTTP ${res.status}`;
    if (res.status === 401 && !path.startsWith('/dashboard/session')) onSignedOut();
    throw new ApiError(res.status, message);
  }
  return parsed as T;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { error: text };
  }
}

/** The query string of the non-empty fields. */
export function query(fields: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) if (value) params.set(name, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}

export const shortTime = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

/** JSON text indented; anything else as it is. */
export function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
