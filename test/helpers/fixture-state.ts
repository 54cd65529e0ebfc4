/**
 * A read-only view of `state`, which a fixture's beforeAll fills in: each of `names` is a getter
 * that throws while its value is still unset (read at module level, or a part the file opted out
 * of), instead of handing out `undefined`.
 */
export function filledByBeforeAll<T extends object>(
  fixture: string,
  state: Partial<T>,
  names: (keyof T & string)[],
): T {
  const view = {} as T;
  for (const name of names) {
    Object.defineProperty(view, name, {
      enumerable: true,
      get() {
        const value = state[name];
        if (value === undefined) throw new Error(`${fixture}: ${name} is not set up (before beforeAll, or opted out)`);
        return value;
      },
    });
  }
  return view;
}
