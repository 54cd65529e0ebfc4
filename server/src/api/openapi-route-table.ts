import type { AnyRouter } from '@trpc/server';
import {
  coerceSchema,
  getInputOutputParsers,
  instanceofZodTypeObject,
  instanceofZodTypeOptional,
  type OpenApiProcedure,
  unwrapZodType,
  zodSupportsCoerce,
} from 'trpc-to-openapi';
import { ZodArray, z } from 'zod';

type Procedure = { _def: { inputs: unknown[]; meta?: { openapi?: { method: string; path: string } } } };

/**
 * The router as trpc-to-openapi's Node adapter sees it. On EVERY request that adapter unwraps the
 * procedure's input schema and walks it (`coerceSchema`) to switch on coercion of query-string
 * numbers and booleans: a walk that allocates (a fresh `z.string()` for every enum field, a merged
 * object for a procedure without input) and whose outcome never changes. So, per route, we run that
 * walk ONCE here on the real schemas — exactly the adapter's own steps — and hand the adapter a copy
 * of the router whose procedures carry a flat stand-in input: the same kind (object or not) and, per
 * query field, the same "is a query array" answer, which is all the adapter reads of it afterwards
 * (a route with a JSON body: just its path parameters, whose coercion the body pin keeps off).
 *
 * Only the adapter's routing and input gathering see the stand-ins. It calls procedures through
 * `router.createCaller`, which is bound to the real router: validation (input and output), the
 * middlewares and the resolvers are the real ones, and the OpenAPI document is built from the real
 * router elsewhere (openapi-document.ts).
 */
export function openApiRouteTable<R extends AnyRouter>(router: R): R {
  const procedures: Record<string, unknown> = {};
  for (const [path, procedure] of Object.entries(router._def.procedures as Record<string, Procedure>)) {
    procedures[path] = procedure._def.meta?.openapi
      ? { _def: { ...procedure._def, inputs: [standInInput(procedure)] } }
      : procedure;
  }
  return { ...router, _def: { ...router._def, procedures } };
}

function standInInput(procedure: Procedure): unknown {
  const { inputParser } = getInputOutputParsers(procedure as unknown as OpenApiProcedure);
  const unwrapped = unwrapZodType(inputParser as never, true);
  // Not an object (void-like, a scalar): the adapter neither walks nor coerces it; keep it as is.
  if (!instanceofZodTypeObject(unwrapped)) return inputParser;
  // What the adapter does on each request, done once (idempotent: it only sets `coerce` flags).
  if (zodSupportsCoerce) coerceSchema(unwrapped);
  const openapi = procedure._def.meta?.openapi;
  const query = openapi?.method === 'GET' || openapi?.method === 'DELETE';
  const pathParameters = new Set([...(openapi?.path ?? '').matchAll(/\{(.+?)\}/g)].map((m) => m[1]));
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(unwrapped.shape)) {
    if (query || pathParameters.has(key)) shape[key] = isQueryArray(field) ? z.array(z.string()) : z.string();
  }
  return z.object(shape);
}

/** The adapter's own test for a query field that takes repeated values (`?status=a&status=b`). */
function isQueryArray(field: unknown): boolean {
  if (field instanceof ZodArray) return true;
  return instanceofZodTypeOptional(field as never) && (field as z.ZodOptional).unwrap() instanceof ZodArray;
}
