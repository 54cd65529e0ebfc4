import { describe, expect, it } from 'vitest';
import { isDatabaseUnreachable, retryWhileDatabaseUnreachable } from './database-retry.ts';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isDatabaseUnreachable', () => {
  it.each([
    withCode('terminating connection due to administrator command', '57P01'),
    withCode('the database system is starting up', '57P03'),
    withCode('connection failure', '08006'),
    withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    new Error('Connection terminated unexpectedly'),
  ])('a lost or refused connection: $message', (error) => {
    expect(isDatabaseUnreachable(error)).toBe(true);
  });

  it.each([
    withCode('new row violates check constraint', '23514'),
    withCode('recording refused by a trigger', 'P0001'),
    new Error('unsupported Unicode escape sequence'),
    'not an error',
  ])('a statement the database refused, or anything else: %s', (error) => {
    expect(isDatabaseUnreachable(error)).toBe(false);
  });
});

describe('retryWhileDatabaseUnreachable', () => {
  it('tries again while the database is unreachable, then returns what the work returns', async () => {
    let calls = 0;
    const result = await retryWhileDatabaseUnreachable(async () => {
      calls += 1;
      if (calls < 3) throw withCode('connect ECONNREFUSED', 'ECONNREFUSED');
      return 'recorded';
    }, 5_000);
    expect(result).toBe('recorded');
    expect(calls).toBe(3);
  });

  it('throws a refused statement at once, without trying again', async () => {
    let calls = 0;
    const refused = withCode('refused by a trigger', 'P0001');
    await expect(
      retryWhileDatabaseUnreachable(async () => {
        calls += 1;
        throw refused;
      }, 5_000),
    ).rejects.toBe(refused);
    expect(calls).toBe(1);
  });

  it('gives up once its window has passed', async () => {
    let calls = 0;
    await expect(
      retryWhileDatabaseUnreachable(async () => {
        calls += 1;
        throw withCode('connect ECONNREFUSED', 'ECONNREFUSED');
      }, 300),
    ).rejects.toThrow('ECONNREFUSED');
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(3);
  });
});
