import { describe, expect, it } from 'vitest';
import { boundedMap } from './bounded-map.ts';

describe('boundedMap', () => {
  it('makes a value once and keeps it, starts over when a new key finds it full, never holds more than the bound', () => {
    const map = boundedMap<string, number>(3);
    let made = 0;
    const make = (n: number) => () => {
      made += 1;
      return n;
    };
    expect(map.getOrMake('a', make(1))).toBe(1);
    expect(map.getOrMake('a', make(9))).toBe(1);
    expect(made).toBe(1);
    map.set('b', 2);
    map.set('c', 3);
    map.set('c', 4); // a kept key is replaced without starting over
    expect([map.get('a'), map.get('b'), map.get('c')]).toEqual([1, 2, 4]);
    map.set('d', 5); // full: starts over with the new key only
    expect([map.get('a'), map.get('b'), map.get('c'), map.get('d')]).toEqual([undefined, undefined, undefined, 5]);
    map.delete('d');
    expect(map.get('d')).toBeUndefined();
  });
});
