import { describe, expect, it } from 'vitest';
import type { OutboundResult } from '../../dispatch/outbound-types.ts';
import { classifyOutcome } from '../../dispatch/outcome.ts';
import type { PollConfig } from '../../tasks/task-types.ts';
import { decideAttempt } from './attempt-decision.ts';
import { answered, taskWith, unanswered } from './decision-fixtures.ts';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const STARTED = new Date('2026-03-01T11:59:59.000Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Half of the jitter: the first exponential retry waits 1000 ms × 1.1. */
const halfJitter = () => 0.5;

const pollConfig: PollConfig = {
  urlTemplate: 'https://provider.example/jobs/{startResult.body.id}',
  statusPath: 'status',
  doneValues: ['succeeded'],
  failValues: ['failed'],
  interval: 5,
  maxDuration: 600,
  forwardAuth: true,
};

/** decideAttempt on the outcome the real classifier gives `result`. */
function decide(fields: Parameters<typeof taskWith>[0], result: OutboundResult) {
  return decideAttempt(taskWith(fields), STARTED, result, classifyOutcome(result, NOW), halfJitter);
}

const ok = answered(200, { headers: { 'content-type': 'application/json' }, body: '{"id":"job-1"}', durationMs: 42 });
const okAsResult = {
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: '{"id":"job-1"}',
  bodyEncoding: 'utf8',
  duration: 42,
  bodyTruncated: false,
};

describe('decideAttempt: a 2xx answer', () => {
  it('a direct task completes with the response as its result, and the attempt is recorded as number 1', () => {
    expect(decide({}, ok)).toEqual({
      end: { kind: 'completed', result: okAsResult },
      retryDelayMs: null,
      attempt: {
        number: 1,
        startedAt: '2026-03-01T11:59:59.000Z',
        durationMs: 42,
        statusCode: 200,
        error: null,
        willRetry: false,
      },
    });
  });

  it('a binary body stays base64 in the result', () => {
    const audio = answered(200, { body: 'SUQzBAA=', bodyEncoding: 'base64' });
    expect(decide({}, audio).end).toMatchObject({
      kind: 'completed',
      result: { body: 'SUQzBAA=', bodyEncoding: 'base64' },
    });
  });

  it('a callback task waits, keeping the response as its startResult', () => {
    expect(decide({ callbackIdHash: 'ab'.repeat(32) }, ok).end).toEqual({ kind: 'waiting', startResult: okAsResult });
  });

  it('a waitForSignal task waits, keeping the response as its startResult', () => {
    expect(decide({ waitForSignal: true }, ok).end).toEqual({ kind: 'waiting', startResult: okAsResult });
  });

  it('a polling task polls with a fresh poll job id, also when it has a callback too (hybrid)', () => {
    const polling = decide({ pollConfig }, ok);
    const hybrid = decide({ pollConfig, callbackIdHash: 'ab'.repeat(32) }, ok);
    for (const decision of [polling, hybrid]) {
      expect(decision.end).toEqual({
        kind: 'polling',
        startResult: okAsResult,
        pollJobId: expect.stringMatching(UUID),
      });
      expect(decision.retryDelayMs).toBeNull();
      expect(decision.attempt).toMatchObject({ number: 1, error: null, willRetry: false });
    }
    expect(polling.end).not.toEqual(hybrid.end);
  });
});

describe('decideAttempt: a retryable outcome with retries left', () => {
  it.each([408, 425, 429, 500, 502, 503, 599])(
    'HTTP %i retries after the first backoff step (1000 ms + jitter)',
    (code) => {
      const decision = decide({}, answered(code, { durationMs: 9 }));
      expect(decision).toEqual({
        end: { kind: 'retry', nextJobId: expect.stringMatching(UUID) },
        retryDelayMs: 1100,
        attempt: {
          number: 1,
          startedAt: '2026-03-01T11:59:59.000Z',
          durationMs: 9,
          statusCode: code,
          error: `HTTP ${code}`,
          willRetry: true,
        },
      });
    },
  );

  it.each([
    ['network', 'connect ECONNREFUSED 127.0.0.1:9'],
    ['timeout', 'Request timed out after 30000 ms'],
    ['dns', 'getaddrinfo ENOTFOUND provider.invalid'],
  ] as const)('a %s failure retries, recording no status code and the failure message', (kind, message) => {
    const decision = decide({}, unanswered(kind, message));
    expect(decision.end).toEqual({ kind: 'retry', nextJobId: expect.stringMatching(UUID) });
    expect(decision.retryDelayMs).toBe(1100);
    expect(decision.attempt).toEqual({
      number: 1,
      startedAt: '2026-03-01T11:59:59.000Z',
      durationMs: 7,
      statusCode: null,
      error: message,
      willRetry: true,
    });
  });

  it('the third attempt backs off by the task strategy: exponential 4000 ms, linear 3000 ms (+10 % at half jitter)', () => {
    const exponential = decide({ retryCount: 2, retryBackoff: 'exponential' }, answered(503));
    const linear = decide({ retryCount: 2, retryBackoff: 'linear' }, answered(503));
    expect(exponential.retryDelayMs).toBe(4400);
    expect(linear.retryDelayMs).toBe(3300);
    expect(exponential.attempt.number).toBe(3);
    expect(linear.attempt.number).toBe(3);
  });

  it('the jitter only ever adds: none gives the nominal step, the most gives +20 %', () => {
    const result = answered(503);
    const outcome = classifyOutcome(result, NOW);
    const task = taskWith({ retryCount: 1 });
    expect(decideAttempt(task, STARTED, result, outcome, () => 0).retryDelayMs).toBe(2000);
    expect(decideAttempt(task, STARTED, result, outcome, () => 1).retryDelayMs).toBe(2400);
  });

  it('Retry-After takes precedence over the backoff, both longer (7 s) and shorter (0 s)', () => {
    const later = decide({ retryCount: 2 }, answered(429, { headers: { 'retry-after': '7' } }));
    const now = decide({ retryCount: 2 }, answered(503, { headers: { 'retry-after': '0' } }));
    expect(later.retryDelayMs).toBe(7000);
    expect(now.retryDelayMs).toBe(0);
    expect(later.end.kind).toBe('retry');
    expect(later.attempt).toMatchObject({ number: 3, statusCode: 429, error: 'HTTP 429', willRetry: true });
  });

  it('an HTTP-date Retry-After counts from the classifier clock', () => {
    const headers = { 'retry-after': new Date(NOW + 90_000).toUTCString() };
    expect(decide({}, answered(503, { headers })).retryDelayMs).toBe(90_000);
  });

  it('the last retry left is still taken (retryCount one below maxRetries)', () => {
    const decision = decide({ retryCount: 2, maxRetries: 3 }, answered(500));
    expect(decision.end.kind).toBe('retry');
    expect(decision.attempt).toMatchObject({ number: 3, willRetry: true });
  });

  it('each retry gets its own next job id', () => {
    const first = decide({}, answered(500)).end;
    const second = decide({}, answered(500)).end;
    expect(first).not.toEqual(second);
  });
});

describe('decideAttempt: retries spent', () => {
  it('a 5xx after the last retry fails with "Failed after N attempts" and keeps the response as the result', () => {
    const last = answered(503, { body: 'overloaded', durationMs: 11 });
    expect(decide({ retryCount: 3, maxRetries: 3 }, last)).toEqual({
      end: {
        kind: 'failed',
        error: 'Failed after 4 attempts: HTTP 503',
        result: {
          statusCode: 503,
          headers: {},
          body: 'overloaded',
          bodyEncoding: 'utf8',
          duration: 11,
          bodyTruncated: false,
        },
      },
      retryDelayMs: null,
      attempt: {
        number: 4,
        startedAt: '2026-03-01T11:59:59.000Z',
        durationMs: 11,
        statusCode: 503,
        error: 'HTTP 503',
        willRetry: false,
      },
    });
  });

  it('with maxRetries 0 a network failure fails at once: "Failed after 1 attempt" (singular), no result', () => {
    const decision = decide({ maxRetries: 0 }, unanswered('network', 'socket hang up'));
    expect(decision.end).toEqual({ kind: 'failed', error: 'Failed after 1 attempt: socket hang up', result: null });
    expect(decision.attempt).toMatchObject({ number: 1, statusCode: null, error: 'socket hang up', willRetry: false });
    expect(decision.retryDelayMs).toBeNull();
  });

  it('a Retry-After does not buy a retry once retries are spent', () => {
    const decision = decide({ retryCount: 1, maxRetries: 1 }, answered(429, { headers: { 'retry-after': '1' } }));
    expect(decision.end).toMatchObject({ kind: 'failed', error: 'Failed after 2 attempts: HTTP 429' });
    expect(decision.retryDelayMs).toBeNull();
  });
});

describe('decideAttempt: a final failure', () => {
  it.each([400, 401, 404, 422])(
    'HTTP %i fails at once with retries left, keeping the response as the result',
    (code) => {
      const answer = answered(code, { body: '{"error":"bad prompt"}', durationMs: 5 });
      expect(decide({ retryCount: 0, maxRetries: 5 }, answer)).toEqual({
        end: {
          kind: 'failed',
          error: `HTTP ${code}`,
          result: {
            statusCode: code,
            headers: {},
            body: '{"error":"bad prompt"}',
            bodyEncoding: 'utf8',
            duration: 5,
            bodyTruncated: false,
          },
        },
        retryDelayMs: null,
        attempt: {
          number: 1,
          startedAt: '2026-03-01T11:59:59.000Z',
          durationMs: 5,
          statusCode: code,
          error: `HTTP ${code}`,
          willRetry: false,
        },
      });
    },
  );

  it('a 4xx on a later attempt keeps its attempt number and is not phrased as "Failed after"', () => {
    const decision = decide({ retryCount: 2 }, answered(404));
    expect(decision.end).toMatchObject({ kind: 'failed', error: 'HTTP 404' });
    expect(decision.attempt).toMatchObject({ number: 3, willRetry: false });
  });

  it('a refusal by the network guard fails at once with no result', () => {
    const decision = decide({}, unanswered('network_guard', 'network guard: 10.0.0.5 is private'));
    expect(decision.end).toEqual({ kind: 'failed', error: 'network guard: 10.0.0.5 is private', result: null });
    expect(decision.attempt).toMatchObject({ number: 1, statusCode: null, willRetry: false });
  });
});
