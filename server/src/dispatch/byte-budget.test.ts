import { describe, expect, it } from 'vitest';
import { createByteBudget, type Reservation } from './byte-budget.ts';

describe('byte budget', () => {
  it('holds a reservation that fits at once and gives it back on release (twice is a no-op)', async () => {
    const budget = createByteBudget(100);
    const a = await budget.reserve(60);
    expect(budget.inUse()).toBe(60);
    a.release();
    a.release();
    expect(budget.inUse()).toBe(0);
  });

  it('makes a reservation that does not fit wait until enough is released, first come first served', async () => {
    const budget = createByteBudget(100);
    const a = await budget.reserve(70);
    const order: string[] = [];
    const noting = (name: string) => (reservation: Reservation) => {
      order.push(name);
      return reservation;
    };
    const b = budget.reserve(50).then(noting('b'));
    const c = budget.reserve(10).then(noting('c'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(budget.waiting()).toBe(2);
    expect(order).toEqual([]);
    a.release();
    (await b).release();
    (await c).release();
    expect(order).toEqual(['b', 'c']);
    expect(budget.inUse()).toBe(0);
  });

  it('clamps a reservation bigger than the whole budget, so it runs alone instead of never', async () => {
    const budget = createByteBudget(100);
    const huge = await budget.reserve(1_000);
    expect(huge.bytes).toBe(100);
    huge.release();
  });

  it('stops waiting when the signal aborts, and lets the ones behind it in', async () => {
    const budget = createByteBudget(100);
    const a = await budget.reserve(90);
    const controller = new AbortController();
    const big = budget.reserve(50, controller.signal);
    const small = budget.reserve(10);
    controller.abort(new Error('deadline'));
    await expect(big).rejects.toThrow('deadline');
    expect((await small).bytes).toBe(10);
    expect(budget.inUse()).toBe(100);
    a.release();
  });
});
