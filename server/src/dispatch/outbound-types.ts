import type { HttpMethod } from '../tasks/task-types.ts';

// The data shapes of one outbound HTTP attempt, shared by the caller and the outcome classifier.

/** One outbound HTTP attempt, as the dispatch and webhook jobs describe it. */
export type OutboundRequest = {
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  /** Never sent for GET. */
  body: string | null;
  /** Bounds the whole attempt: connect, headers, body and every redirect hop. */
  timeoutMs: number;
  /** The response body is cut at this many bytes (and `bodyTruncated` set). */
  maxResponseBytes: number;
};

export type OutboundResponse = {
  statusCode: number;
  /** Lower-case names; repeated values joined with ', '. */
  headers: Record<string, string>;
  /** UTF-8 text. */
  body: string;
  bodyTruncated: boolean;
  durationMs: number;
  /** How many redirects were followed to reach this response. */
  redirects: number;
};

export type OutboundFailureKind =
  | 'timeout'
  | 'network'
  | 'dns'
  | 'network_guard'
  | 'too_many_redirects'
  | 'bad_redirect';

export type OutboundFailure = {
  kind: OutboundFailureKind;
  /** Safe to store and show: never contains header values. */
  message: string;
  durationMs: number;
};

export type OutboundResult = { ok: true; response: OutboundResponse } | { ok: false; failure: OutboundFailure };
