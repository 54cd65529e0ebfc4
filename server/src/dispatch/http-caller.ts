import { type Agent, request } from 'undici';
import { type ByteBudget, NO_RESERVATION, type Reservation } from './byte-budget.ts';
import { type AllowedCidrs, createGuardedAgent, type Resolver } from './network-guard.ts';
import { describeError, type FailureWithoutDuration } from './outbound-errors.ts';
import type { OutboundRequest, OutboundResponse, OutboundResult } from './outbound-types.ts';
import { decideRedirect, type Hop, MAX_REDIRECTS } from './redirects.ts';
import { discardBody, encodeBody, flattenHeaders, readCappedBytes } from './response-body.ts';

// The one way AsyncQueue calls out over HTTP: through a single guarded, keep-alive undici Agent,
// one deadline per attempt (every redirect hop included), a capped body, and redirects followed
// by hand so each hop passes the network guard again.

export type {
  OutboundFailure,
  OutboundFailureKind,
  OutboundRequest,
  OutboundResponse,
  OutboundResult,
} from './outbound-types.ts';

// Why: a TCP (+TLS, + DNS) handshake slower than 10 s means a dead or black-holed host; failing it
// as a network error lets the retry schedule try again instead of spending the attempt's budget.
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Why 8: a body of N bytes past the free prefix is held about eight times over until recorded: its
 * chunks and their concatenation (2 N), its text or base64 (≤ 2 N as a two-byte string), the
 * driver's parameter buffer and protocol message (≤ 2.7 N for base64), and the row the recording
 * UPDATE returns (text and raw, ~2 N). Reserving that worst case keeps the sum inside the heap.
 */
export const RESPONSE_EXPANSION_FACTOR = 8;

export type HttpCaller = {
  call(req: OutboundRequest): Promise<OutboundResult>;
  /** Closes the pooled connections (waits for calls in flight). */
  close(): Promise<void>;
};

export type HttpCallerOptions = {
  allowed: AllowedCidrs;
  /** Host name resolver; tests replace it to simulate DNS answers. */
  lookup?: Resolver;
  /** Bounds the memory of response bodies in flight (see RESPONSE_EXPANSION_FACTOR); none: unbounded. */
  budget?: ByteBudget;
};

export function createHttpCaller(opts: HttpCallerOptions): HttpCaller {
  const agent = createGuardedAgent({
    allowed: opts.allowed,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    ...(opts.lookup ? { lookup: opts.lookup } : {}),
  });
  return {
    call: (req) => callWithDeadline(agent, req, opts.budget),
    close: () => agent.close(),
  };
}

type FinalResponse = Omit<OutboundResponse, 'durationMs' | 'release'>;
type HopsOutcome = { ok: true; response: FinalResponse } | { ok: false; failure: FailureWithoutDuration };

class AttemptDeadline extends Error {
  override readonly name = 'AttemptDeadline';
}

async function callWithDeadline(agent: Agent, req: OutboundRequest, budget?: ByteBudget): Promise<OutboundResult> {
  const started = performance.now();
  let reservation: Reservation = NO_RESERVATION;
  const admit = async (contentLength: number | null, signal: AbortSignal) => {
    if (!budget) return;
    const bytes = Math.min(contentLength ?? req.maxResponseBytes, req.maxResponseBytes);
    reservation = await budget.reserve(bytes * RESPONSE_EXPANSION_FACTOR, signal);
  };
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new AttemptDeadline(`Timed out after ${req.timeoutMs} ms`)),
    req.timeoutMs,
  );
  let outcome: HopsOutcome;
  try {
    outcome = await followHops(agent, req, controller.signal, admit);
  } catch (err) {
    const headerValues = Object.values(req.headers);
    outcome = { ok: false, failure: describeError(err, controller.signal.aborted, req.timeoutMs, headerValues) };
  } finally {
    clearTimeout(timer);
  }
  const durationMs = Math.round(performance.now() - started);
  if (!outcome.ok) reservation.release();
  return outcome.ok
    ? { ok: true, response: { ...outcome.response, durationMs, release: reservation.release } }
    : { ok: false, failure: { ...outcome.failure, durationMs } };
}

type Admit = (contentLength: number | null, signal: AbortSignal) => Promise<void>;

/** Sends the request and follows up to MAX_REDIRECTS redirects, all under `signal`. */
async function followHops(agent: Agent, req: OutboundRequest, signal: AbortSignal, admit: Admit): Promise<HopsOutcome> {
  let hop: Hop = { url: req.url, method: req.method, headers: req.headers, body: req.body };
  for (let redirects = 0; ; redirects += 1) {
    const res = await request(hop.url, {
      dispatcher: agent,
      method: hop.method,
      headers: hop.headers,
      body: hop.method === 'GET' ? null : hop.body,
      signal,
    });
    const decision = decideRedirect(res.statusCode, res.headers.location, hop, req.hopPolicy);
    if (decision.kind === 'final') {
      const contentLength = Number(res.headers['content-length']);
      const length = Number.isSafeInteger(contentLength) && contentLength >= 0 ? contentLength : null;
      const read = await readCappedBytes(res.body, req.maxResponseBytes, () => admit(length, signal));
      const headers = flattenHeaders(res.headers);
      const encoded = encodeBody(read.bytes, read.truncated);
      return {
        ok: true,
        response: { statusCode: res.statusCode, headers, ...encoded, bodyTruncated: read.truncated, redirects },
      };
    }
    await discardBody(res.body, signal);
    if (decision.kind === 'bad') return { ok: false, failure: { kind: 'bad_redirect', message: decision.message } };
    if (redirects >= MAX_REDIRECTS) {
      const message = `Too many redirects (more than ${MAX_REDIRECTS})`;
      return { ok: false, failure: { kind: 'too_many_redirects', message } };
    }
    hop = decision.hop;
  }
}
