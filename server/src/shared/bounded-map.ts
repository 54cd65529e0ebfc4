/**
 * A map that starts over when it is full: for what a process keeps to save work (a derived key, a
 * built statement text, a hint), which can be made again at any time. The bound keeps input that
 * varies the keys (many teams, crafted texts) from growing it without end; starting over costs only
 * the rebuilding, never a wrong answer.
 */
export type BoundedMap<K, V> = {
  get(key: K): V | undefined;
  /** The value kept for `key`; else `make()`, kept. */
  getOrMake(key: K, make: () => V): V;
  set(key: K, value: V): void;
  delete(key: K): void;
};

export function boundedMap<K, V>(max: number): BoundedMap<K, V> {
  const map = new Map<K, V>();
  const set = (key: K, value: V) => {
    if (map.size >= max && !map.has(key)) map.clear();
    map.set(key, value);
  };
  return {
    get: (key) => map.get(key),
    getOrMake(key, make) {
      let value = map.get(key);
      if (value === undefined) {
        value = make();
        set(key, value);
      }
      return value;
    },
    set,
    delete: (key) => {
      map.delete(key);
    },
  };
}
