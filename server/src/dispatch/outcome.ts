import type { OutboundResponse, OutboundResult } from './outbound-types.ts';
import { parseRetryAfter } from './retry-after.ts';

// What an attempt's result means for the task: done (2xx), try again and when (408, 425, 429, 5xx,
// timeouts, network and DNS errors; Retry-After honoured), or give up (any other status, the
// network guard, a bad redirect).

export type Outcome =
  | { kind: 'success' }
  | { kind: 'retry'; reason: string; retryAfterMs: number | null }
  | { kind: 'fail'; reason: string };

/** Statuses below 500 that are worth another try: the target asked us to come back. */
const RETRYABLE_4XX: ReadonlySet<number> = new Set([408, 425, 429]);

/**
 * The one retry rule for a provider's HTTP answer, shared by dispatch and polling (status and result
 * URLs): 408, 425, 429 and every 5xx are "not now"; anything else is an answer. (A completion
 * webhook is the client's own receiver: it is retried on every non-2xx but 410, see webhook-handler.ts.)
 */
export function isRetryableStatus(statusCode: number): boolean {
  return RETRYABLE_4XX.has(statusCode) || (statusCode >= 500 && statusCode <= 599);
}

/** Classifies one attempt; `now` (ms since the epoch) dates an HTTP-date Retry-After. */
export function classifyOutcome(result: OutboundResult, now: number): Outcome {
  if (result.ok) return classifyResponse(result.response, now);
  const { kind, message } = result.failure;
  switch (kind) {
    case 'timeout':
    case 'network':
    case 'dns':
      return { kind: 'retry', reason: message, retryAfterMs: null };
    case 'network_guard':
      return {
        kind: 'fail',
        reason: /network guard/i.test(message) ? message : `Refused by the network guard: ${message}`,
      };
    case 'too_many_redirects':
    case 'bad_redirect':
      return { kind: 'fail', reason: message };
  }
}

function classifyResponse(response: OutboundResponse, now: number): Outcome {
  const { statusCode } = response;
  if (statusCode >= 200 && statusCode <= 299) return { kind: 'success' };
  if (isRetryableStatus(statusCode)) {
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'], now);
    return { kind: 'retry', reason: `HTTP ${statusCode}`, retryAfterMs };
  }
  if (statusCode >= 300 && statusCode <= 399) {
    return { kind: 'fail', reason: `HTTP ${statusCode}: redirect without a usable Location` };
  }
  return { kind: 'fail', reason: `HTTP ${statusCode}` };
}
