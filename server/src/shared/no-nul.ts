import type { z } from 'zod';

/** PostgreSQL text and jsonb cannot store the NUL character (U+0000): refuse it as bad input. */
export const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

/** A string field that refuses NUL with a 400 naming the field, instead of a database error (500). */
export function noNul<T extends z.ZodString>(schema: T): T {
  return schema.refine((value) => !value.includes('\u0000'), NUL_MESSAGE) as T;
}
