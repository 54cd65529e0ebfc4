import { describe, expect, it } from 'vitest';
import { APIError, ConnectionError, NotFoundError, RateLimitError } from './errors.ts';
import { isRetryable, parseRetryAfter, retryDelayMs, withRetries } from './retry.ts';

const api = (status: number, retryAfter?: number) =>
  new APIError('x', { status, code: 'x', ...(retryAfter === undefined ? {} : { retryAfter }) });

describe('retry rules', () => {
  it('retries connection errors, 429 and 5xx only', () => {
    expect(isRetryable(new ConnectionError('down'))).toBe(true);
    expect(isRetryable(new RateLimitError('slow', { status: 429, code: 'rate_limited' }))).toBe(true);
    expect(isRetryable(api(500))).toBe(true);
    expect(isRetryable(api(503))).toBe(true);
    expect(isRetryable(new NotFoundError('no', { status: 404, code: 'not_found' }))).toBe(false);
    expect(isRetryable(api(400))).toBe(false);
    expect(isRetryable(new Error('bug'))).toBe(false);
  });

  it('backs off exponentially from 0.5 s, capped at 8 s, with 75–100 % jitter', () => {
    const low = () => 0;
    const high = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 9].map((n) => retryDelayMs(n, api(503), high))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000, 8000,
    ]);
    expect([1, 2, 3, 5].map((n) => retryDelayMs(n, api(503), low))).toEqual([375, 750, 1500, 6000]);
  });

  it('honors Retry-After up to 60 s and gives up beyond', () => {
    expect(retryDelayMs(1, api(429, 3))).toBe(3000);
    expect(retryDelayMs(4, api(429, 0))).toBe(0);
    expect(retryDelayMs(1, api(429, 60))).toBe(60_000);
    expect(retryDelayMs(1, api(429, 61))).toBeNull();
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-15T10:30:00.000Z');
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter(' 1.5 ', now)).toBe(1.5);
    expect(parseRetryAfter('Thu, 15 Jan 2026 10:30:12 GMT', now)).toBe(12);
    expect(parseRetryAfter('Thu, 15 Jan 2026 10:29:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('withRetries: 1 + maxRetries attempts for retryable calls, 1 for the others', async () => {
    let calls = 0;
    const failing = async () => {
      calls += 1;
      throw api(500, 0);
    };
    await expect(withRetries({ maxRetries: 2, retryable: true }, failing)).rejects.toMatchObject({ status: 500 });
    expect(calls).toBe(3);
    calls = 0;
    await expect(withRetries({ maxRetries: 2, retryable: false }, failing)).rejects.toMatchObject({ status: 500 });
    expect(calls).toBe(1);
    calls = 0;
    const flaky = async () => {
      calls += 1;
      if (calls < 2) throw api(502, 0);
      return 'ok';
    };
    await expect(withRetries({ maxRetries: 2, retryable: true }, flaky)).resolves.toBe('ok');
    expect(calls).toBe(2);
  });

  it('withRetries: an abort during the backoff rejects with the signal reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const attempt = async () => {
      controller.abort(reason);
      throw new ConnectionError('down');
    };
    await expect(withRetries({ maxRetries: 5, retryable: true, signal: controller.signal }, attempt)).rejects.toBe(
      reason,
    );
  });
});
