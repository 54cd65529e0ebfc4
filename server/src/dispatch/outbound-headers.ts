import type { HopPolicy } from './redirects.ts';
import { dispatchSignature, type SignedRequest } from './signing.ts';

// The headers of a dispatched call: the user's own, plus the ones that identify and sign
// AsyncQueue's call. Ours win over a user header of the same name (any case), except User-Agent,
// which the user may set. A user `Host` is never sent (the connection's own host is).

const SIGNATURE_HEADER = 'X-AsyncQueue-Signature';
/** Headers a task may carry but that never go out: the target's host comes from its URL. */
const NEVER_FORWARDED: ReadonlySet<string> = new Set(['host']);

export type DispatchHeadersOptions = {
  userHeaders: Record<string, string>;
  taskId: string;
  /** 1-based attempt number. */
  attempt: number;
  /** The method and URL of the request as sent: the signature covers both. */
  method: string;
  url: string;
  /** The body as sent (null for none, e.g. GET): the signature covers '' then. */
  body: string | null;
  /** The team's current `whsec_` secrets (two during a rotation); the dispatch key is derived from each. */
  secrets: readonly string[];
  /** AsyncQueue's version, for User-Agent. */
  version: string;
  unixSeconds: number;
};

export function dispatchHeaders(opts: DispatchHeadersOptions): Record<string, string> {
  const ours: Record<string, string> = {
    'X-AsyncQueue-Task-Id': opts.taskId,
    'X-AsyncQueue-Attempt': String(opts.attempt),
    [SIGNATURE_HEADER]: dispatchSignature(opts.secrets, opts, opts.unixSeconds),
  };
  const oursLower = new Set(Object.keys(ours).map((name) => name.toLowerCase()));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(opts.userHeaders)) {
    const lower = name.toLowerCase();
    if (!oursLower.has(lower) && !NEVER_FORWARDED.has(lower)) headers[name] = value;
  }
  const hasUserAgent = Object.keys(headers).some((name) => name.toLowerCase() === 'user-agent');
  if (!hasUserAgent) headers['User-Agent'] = `AsyncQueue/${opts.version}`;
  return { ...headers, ...ours };
}

/**
 * The redirect policy of a dispatched call: each hop signed for its own method, URL and body at
 * the time it is sent, and the vault-resolved headers named so a cross-origin hop drops them.
 */
export function dispatchHopPolicy(
  secrets: readonly string[],
  vaultHeaders: readonly string[],
  now: () => number = Date.now,
): HopPolicy {
  return {
    signHop: (hop: SignedRequest) => ({
      [SIGNATURE_HEADER]: dispatchSignature(secrets, hop, Math.floor(now() / 1000)),
    }),
    vaultHeaders,
  };
}
