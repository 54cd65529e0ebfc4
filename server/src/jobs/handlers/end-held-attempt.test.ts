import { describe, expect, it } from 'vitest';
import { taskWith } from './decision-fixtures.ts';
import { decideInterrupted } from './end-held-attempt.ts';

// decideInterrupted is the pure part of this module; endHeldAttempt (the fenced UPDATE and its jobs)
// is covered end to end by test/attempt-recording-failure.test.ts and test/attempt-watchdog.test.ts.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const facts = { startedAt: '2026-03-01T11:59:59.000Z', durationMs: 1234, statusCode: 200 };
const CAUSE = 'Could not record the attempt: value too long for type character varying';
/** Half of the jitter: +10 % on the nominal step. */
const halfJitter = () => 0.5;

describe('decideInterrupted', () => {
  it('with retries left: a retry by the task backoff, counted as this attempt, keeping the facts', () => {
    const task = taskWith({ retryCount: 1, maxRetries: 3, retryBackoff: 'exponential' });
    expect(decideInterrupted(task, facts, CAUSE, false, halfJitter)).toEqual({
      end: { kind: 'retry', nextJobId: expect.stringMatching(UUID) },
      retryDelayMs: 2200,
      attempt: { ...facts, number: 2, error: CAUSE, willRetry: true },
    });
  });

  it('a linear task backs off linearly: the third attempt waits 3000 ms (+10 %)', () => {
    const task = taskWith({ retryCount: 2, maxRetries: 5, retryBackoff: 'linear' });
    expect(decideInterrupted(task, facts, CAUSE, false, halfJitter).retryDelayMs).toBe(3300);
  });

  it('with retries spent: failed with "Failed after N attempts" and no result (the body may be what failed)', () => {
    const task = taskWith({ retryCount: 3, maxRetries: 3 });
    expect(decideInterrupted(task, facts, CAUSE)).toEqual({
      end: { kind: 'failed', error: `Failed after 4 attempts: ${CAUSE}`, result: null },
      retryDelayMs: null,
      attempt: { ...facts, number: 4, error: CAUSE, willRetry: false },
    });
  });

  it('with maxRetries 0 the message says "1 attempt" (singular)', () => {
    const decision = decideInterrupted(taskWith({ maxRetries: 0 }), facts, 'stuck');
    expect(decision.end).toEqual({ kind: 'failed', error: 'Failed after 1 attempt: stuck', result: null });
  });

  it('keepFailure: an attempt already judged final (a 4xx) fails even with retries left', () => {
    const task = taskWith({ retryCount: 0, maxRetries: 5 });
    const decision = decideInterrupted(task, { ...facts, statusCode: 404 }, CAUSE, true, halfJitter);
    expect(decision).toEqual({
      end: { kind: 'failed', error: `Failed after 1 attempt: ${CAUSE}`, result: null },
      retryDelayMs: null,
      attempt: { ...facts, statusCode: 404, number: 1, error: CAUSE, willRetry: false },
    });
  });

  it('a cause longer than 500 characters is cut to 500 and an ellipsis, in the attempt and the error', () => {
    const cause = `${'x'.repeat(500)}TAIL`;
    const cut = `${'x'.repeat(500)}…`;
    const retried = decideInterrupted(taskWith(), facts, cause, false, halfJitter);
    const failed = decideInterrupted(taskWith({ maxRetries: 0 }), facts, cause);
    expect(retried.attempt.error).toBe(cut);
    expect(failed.attempt.error).toBe(cut);
    expect(failed.end).toMatchObject({ kind: 'failed', error: `Failed after 1 attempt: ${cut}` });
  });

  it('a cause of exactly 500 characters is kept whole', () => {
    const cause = 'y'.repeat(500);
    expect(decideInterrupted(taskWith(), facts, cause, false, halfJitter).attempt.error).toBe(cause);
  });
});
