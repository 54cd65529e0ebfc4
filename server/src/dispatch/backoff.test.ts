import { describe, expect, it } from 'vitest';
import { retryDelayMs, webhookRetryDelayMs } from './backoff.ts';

const noJitter = () => 0;
const maxJitter = () => 0.999_999;
const halfJitter = () => 0.5;

describe('retryDelayMs', () => {
  it.each([
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [4, 8_000],
    [5, 16_000],
    [12, 2_048_000],
    [13, 3_600_000],
    [100, 3_600_000],
    [2_000, 3_600_000],
  ])('exponential, retry %i → %i ms without jitter', (retry, expected) => {
    expect(retryDelayMs('exponential', retry, noJitter)).toBe(expected);
  });

  it.each([
    [1, 1_000],
    [2, 2_000],
    [3, 3_000],
    [10, 10_000],
    [3_600, 3_600_000],
    [5_000, 3_600_000],
  ])('linear, retry %i → %i ms without jitter', (retry, expected) => {
    expect(retryDelayMs('linear', retry, noJitter)).toBe(expected);
  });

  it('adds up to +20 % jitter, never less than the step', () => {
    expect(retryDelayMs('exponential', 3, halfJitter)).toBe(4_400);
    expect(retryDelayMs('exponential', 3, maxJitter)).toBe(4_800);
    expect(retryDelayMs('linear', 5, halfJitter)).toBe(5_500);
    expect(retryDelayMs('linear', 5, maxJitter)).toBe(6_000);
  });

  it('caps at 1 h after jitter', () => {
    expect(retryDelayMs('exponential', 12, maxJitter)).toBe(2_457_600);
    expect(retryDelayMs('linear', 3_500, maxJitter)).toBe(3_600_000);
  });

  it('uses Math.random by default, within the jitter band', () => {
    for (let i = 0; i < 100; i += 1) {
      const delay = retryDelayMs('exponential', 2);
      expect(delay).toBeGreaterThanOrEqual(2_000);
      expect(delay).toBeLessThanOrEqual(2_400);
    }
  });

  it('treats retry numbers below 1 as the first retry', () => {
    expect(retryDelayMs('exponential', 0, noJitter)).toBe(1_000);
  });
});

describe('webhookRetryDelayMs', () => {
  it.each([
    [1, 5_000],
    [2, 30_000],
    [3, 120_000],
    [4, 600_000],
    [5, 1_800_000],
    [6, 3_600_000],
    [7, 10_800_000],
    [8, 21_600_000],
  ])('after attempt %i → %i ms', (attempt, expected) => {
    expect(webhookRetryDelayMs(attempt, null, noJitter)).toBe(expected);
    expect(webhookRetryDelayMs(attempt, null, halfJitter)).toBe(Math.round(expected * 1.05));
    expect(webhookRetryDelayMs(attempt, null, maxJitter)).toBeLessThanOrEqual(expected * 1.1);
  });

  it('stops after the 9th attempt', () => {
    expect(webhookRetryDelayMs(9, null, noJitter)).toBeNull();
    expect(webhookRetryDelayMs(10, 1_000, noJitter)).toBeNull();
  });

  it('lets the later of Retry-After and the schedule win', () => {
    expect(webhookRetryDelayMs(1, 60_000, noJitter)).toBe(60_000);
    expect(webhookRetryDelayMs(2, 1_000, halfJitter)).toBe(31_500);
    expect(webhookRetryDelayMs(8, 3_600_000, noJitter)).toBe(21_600_000);
  });
});
