import { describe, expect, it } from 'vitest';
import { uuidv7 } from './uuid-v7.ts';

describe('uuidv7', () => {
  it('has version 7 and the RFC variant', () => {
    const id = uuidv7();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('is strictly increasing within one millisecond and across the clock going back', () => {
    const ids = [uuidv7(1_000), uuidv7(1_000), uuidv7(1_000), uuidv7(999), uuidv7(1_001)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('carries the timestamp in its first 48 bits', () => {
    const ms = Date.UTC(2026, 0, 15, 10, 30);
    const id = uuidv7(ms + 10_000_000);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBeGreaterThanOrEqual(ms);
  });
});
