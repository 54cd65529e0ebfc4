import type { AnyRouter } from '@trpc/server';

const COERCIBLE = new Set(['number', 'boolean', 'bigint', 'date']);
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'nonoptional', 'catch']);

type ZodLike = { _zod?: { def?: Record<string, any> } };

/**
 * trpc-to-openapi turns on `coerce` for every number/boolean field of a procedure's input on its
 * first REST request — also for JSON bodies, where it would accept `"false"` as `true` and `"30"`
 * as 30. JSON bodies carry real types, so for body routes we pin `coerce` to false (query-string
 * inputs keep coercion: they only ever hold strings).
 */
export function keepBodyTypesStrict(router: AnyRouter): void {
  for (const procedure of Object.values(router._def.procedures) as any[]) {
    const method = procedure?._def?.meta?.openapi?.method;
    if (method !== 'POST' && method !== 'PUT' && method !== 'PATCH') continue;
    for (const input of procedure._def.inputs ?? []) pin(input, new Set());
  }
}

function pin(schema: ZodLike | undefined, seen: Set<object>): void {
  const def = schema?._zod?.def;
  if (!def || seen.has(def)) return;
  seen.add(def);
  if (COERCIBLE.has(def.type)) {
    // Already pinned by an earlier server in this process (tests start several): leave it.
    if (Object.getOwnPropertyDescriptor(def, 'coerce')?.get) return;
    Object.defineProperty(def, 'coerce', { get: () => false, set: () => {}, configurable: false });
  } else if (WRAPPERS.has(def.type)) {
    pin(def.innerType, seen);
  } else if (def.type === 'array') {
    pin(def.element, seen);
  } else if (def.type === 'record') {
    pin(def.valueType, seen);
  } else if (def.type === 'pipe') {
    pin(def.in, seen);
    pin(def.out, seen);
  } else if (def.type === 'union') {
    for (const option of def.options ?? []) pin(option, seen);
  } else if (def.type === 'object') {
    for (const field of Object.values(def.shape ?? {})) pin(field as ZodLike, seen);
  }
}
