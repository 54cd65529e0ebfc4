import { asyncQueueSignature } from './signing.ts';

// The headers of a dispatched call (SPEC §4): the user's own, plus the ones that identify and
// sign AsyncQueue's call. Ours win over a user header of the same name (any case), except
// User-Agent, which the user may set.

export type DispatchHeadersOptions = {
  userHeaders: Record<string, string>;
  taskId: string;
  /** 1-based attempt number. */
  attempt: number;
  /** The body as sent (null for none, e.g. GET): the signature covers '' then. */
  body: string | null;
  /** The team's current `whsec_` secrets (two during a rotation). */
  secrets: readonly string[];
  /** AsyncQueue's version, for User-Agent. */
  version: string;
  unixSeconds: number;
};

export function dispatchHeaders(opts: DispatchHeadersOptions): Record<string, string> {
  const ours: Record<string, string> = {
    'X-AsyncQueue-Task-Id': opts.taskId,
    'X-AsyncQueue-Attempt': String(opts.attempt),
    'X-AsyncQueue-Signature': asyncQueueSignature(opts.secrets, opts.body ?? '', opts.unixSeconds),
  };
  const oursLower = new Set(Object.keys(ours).map((name) => name.toLowerCase()));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.userHeaders)) {
    if (!oursLower.has(name.toLowerCase())) headers[name] = value;
  }
  const hasUserAgent = Object.keys(headers).some((name) => name.toLowerCase() === 'user-agent');
  if (!hasUserAgent) headers['User-Agent'] = `AsyncQueue/${opts.version}`;
  return { ...headers, ...ours };
}
