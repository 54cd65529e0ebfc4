/**
 * A request's route as a template, for logs and metrics. Labels come only from the known route
 * table and the router's procedure names, never from the path text: ids, callback ids and signal
 * tokens never appear in a label (they are credentials), and a client sending random paths cannot
 * mint new metric series (each label is a series kept for the life of the process).
 */
const PATTERNS: [RegExp, string][] = [
  [/^\/v1\/tasks\/[^/]+\/webhook\/redeliver$/, '/v1/tasks/:id/webhook/redeliver'],
  [/^\/v1\/tasks\/[^/]+\/cancel$/, '/v1/tasks/:id/cancel'],
  [/^\/v1\/tasks\/[^/]+\/replay$/, '/v1/tasks/:id/replay'],
  [/^\/v1\/tasks\/[^/]+$/, '/v1/tasks/:id'],
  [/^\/v1\/callbacks\/[^/]+$/, '/v1/callbacks/:callbackId'],
  [/^\/v1\/signals\/[^/]+$/, '/v1/signals/:signalToken'],
  [/^\/v1\/tokens\/[^/]+$/, '/v1/tokens/:id'],
  [/^\/docs\/.+$/, '/docs/:asset'],
];

const FIXED = new Set([
  '/v1/tasks',
  // Before the /v1/tasks/:id pattern: these static paths are routes of their own.
  '/v1/tasks/batch',
  '/v1/tasks/cancel',
  '/v1/tasks/replay',
  '/v1/tasks/stats',
  '/v1/providers',
  '/v1/tokens',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/docs',
]);

/** The one label of every path outside the route table (unknown routes, unknown procedures). */
export const UNKNOWN_ROUTE = 'other';
/** A tRPC batch of known procedures: one label whatever the combination. */
const TRPC_BATCH = '/trpc/batch';

export type RouteLabeler = (pathname: string) => string;

/** Builds the labeler from the router's procedure names (`tasks.create`, …): the only tRPC labels. */
export function createRouteLabeler(procedureNames: Iterable<string>): RouteLabeler {
  const procedures = new Set(procedureNames);
  return (pathname) => {
    if (FIXED.has(pathname)) return pathname;
    if (pathname.startsWith('/trpc/')) {
      const names = pathname.slice('/trpc/'.length).split(',');
      if (!names.every((name) => procedures.has(name))) return UNKNOWN_ROUTE;
      return names.length === 1 ? `/trpc/${names[0]}` : TRPC_BATCH;
    }
    for (const [pattern, label] of PATTERNS) if (pattern.test(pathname)) return label;
    return UNKNOWN_ROUTE;
  };
}
