import type { HttpMethod } from '../tasks/task-types.ts';
import type { HopPolicy } from './redirects.ts';
import type { BodyEncoding } from './response-body.ts';

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
  /** Per-hop signing and which headers hold vault values (dropped on a cross-origin redirect). */
  hopPolicy?: HopPolicy;
};

export type OutboundResponse = {
  statusCode: number;
  /** Lower-case names; repeated values joined with ', '. */
  headers: Record<string, string>;
  /** The text itself ("utf8": valid UTF-8 without NUL) or the base64 of the bytes ("base64"). */
  body: string;
  bodyEncoding: BodyEncoding;
  bodyTruncated: boolean;
  durationMs: number;
  /** How many redirects were followed to reach this response. */
  redirects: number;
  /**
   * Gives back the share of the byte budget this response holds (a big body reserves its worst
   * case until recorded). Call it once the response is stored or dropped; calling again is a no-op.
   */
  release(): void;
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
