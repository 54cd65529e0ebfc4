import { describe, expect, it } from 'vitest';
import type { OutboundFailureKind, OutboundResult } from './outbound-types.ts';
import { classifyOutcome, isRetryableStatus } from './outcome.ts';
import { parseRetryAfter } from './retry-after.ts';

const NOW = Date.parse('2026-01-15T10:30:00.000Z');

function response(statusCode: number, headers: Record<string, string> = {}): OutboundResult {
  return {
    ok: true,
    response: {
      statusCode,
      headers,
      body: '',
      bodyEncoding: 'utf8',
      bodyTruncated: false,
      durationMs: 5,
      redirects: 0,
      release() {},
    },
  };
}

function failure(kind: OutboundFailureKind, message = `failed: ${kind}`): OutboundResult {
  return { ok: false, failure: { kind, message, durationMs: 5 } };
}

describe('classifyOutcome: responses', () => {
  it.each([200, 201, 202, 204, 299])('%i → success', (status) => {
    expect(classifyOutcome(response(status), NOW)).toEqual({ kind: 'success' });
  });

  it.each([408, 425, 429, 500, 502, 503, 504, 599])('%i → retry', (status) => {
    expect(classifyOutcome(response(status), NOW)).toEqual({
      kind: 'retry',
      reason: `HTTP ${status}`,
      retryAfterMs: null,
    });
  });

  it.each([400, 401, 403, 404, 409, 410, 422, 451, 499])('%i → fail', (status) => {
    expect(classifyOutcome(response(status), NOW)).toEqual({ kind: 'fail', reason: `HTTP ${status}` });
  });

  it.each([300, 301, 302, 304, 307, 308])('%i (not followed) → fail', (status) => {
    expect(classifyOutcome(response(status), NOW)).toMatchObject({ kind: 'fail' });
  });

  it('passes a Retry-After on a retryable response', () => {
    expect(classifyOutcome(response(429, { 'retry-after': '30' }), NOW)).toEqual({
      kind: 'retry',
      reason: 'HTTP 429',
      retryAfterMs: 30_000,
    });
    expect(classifyOutcome(response(503, { 'retry-after': 'Thu, 15 Jan 2026 10:32:00 GMT' }), NOW)).toMatchObject({
      retryAfterMs: 120_000,
    });
  });
});

describe('classifyOutcome: failures', () => {
  it.each(['timeout', 'network', 'dns'] as const)('%s → retry with the failure as reason', (kind) => {
    expect(classifyOutcome(failure(kind), NOW)).toEqual({
      kind: 'retry',
      reason: `failed: ${kind}`,
      retryAfterMs: null,
    });
  });

  it.each(['too_many_redirects', 'bad_redirect'] as const)('%s → fail', (kind) => {
    expect(classifyOutcome(failure(kind), NOW)).toEqual({ kind: 'fail', reason: `failed: ${kind}` });
  });

  it('network_guard → fail, the reason naming the network guard', () => {
    const guard = 'Refused by the network guard: 10.0.0.1 is private; allow it with ASYNCQUEUE_ALLOWED_CIDRS';
    expect(classifyOutcome(failure('network_guard', guard), NOW)).toEqual({ kind: 'fail', reason: guard });
    expect(classifyOutcome(failure('network_guard', '10.0.0.1 is private'), NOW)).toEqual({
      kind: 'fail',
      reason: 'Refused by the network guard: 10.0.0.1 is private',
    });
  });
});

describe('parseRetryAfter', () => {
  it.each([
    [undefined, null],
    ['0', 0],
    ['7', 7_000],
    [' 120 ', 120_000],
    ['3600', 3_600_000],
    ['3601', 3_600_000],
    ['999999999999', 3_600_000],
    ['-5', null],
    ['1.5', null],
    ['', null],
    ['soon', null],
    ['2026', 2_026_000],
    ['2026-01-15', null],
    ['Thu, 15 Jan 2026 10:30:30 GMT', 30_000],
    ['Thursday, 15-Jan-26 10:31:00 GMT', 60_000],
    ['Thu Jan 15 10:30:10 2026', 10_000],
    ['Thu, 15 Jan 2026 12:30:00 GMT', 3_600_000],
    ['Thu, 15 Jan 2026 10:29:00 GMT', null],
  ])('%j → %j', (value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });
});

describe('isRetryableStatus (the one rule of dispatch and polling)', () => {
  it('says "not now" for 408, 425, 429 and every 5xx, and "an answer" for the rest', () => {
    for (const code of [408, 425, 429, 500, 502, 503, 504, 599])
      expect(isRetryableStatus(code), String(code)).toBe(true);
    for (const code of [200, 204, 301, 400, 401, 403, 404, 409, 410, 422, 600]) {
      expect(isRetryableStatus(code), String(code)).toBe(false);
    }
  });

  it('agrees with the dispatch classification for every status', () => {
    for (let code = 200; code < 600; code += 1) {
      expect(classifyOutcome(response(code), NOW).kind === 'retry', String(code)).toBe(isRetryableStatus(code));
    }
  });
});
