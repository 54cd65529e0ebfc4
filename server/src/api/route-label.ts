/**
 * A request's route as a template, for logs and metrics. Ids, callback ids and signal tokens never
 * appear in a label (they are credentials or unbounded cardinality).
 */
const PATTERNS: [RegExp, string][] = [
  [/^\/v1\/tasks\/[^/]+\/webhook\/redeliver$/, '/v1/tasks/:id/webhook/redeliver'],
  [/^\/v1\/tasks\/[^/]+\/cancel$/, '/v1/tasks/:id/cancel'],
  [/^\/v1\/tasks\/[^/]+$/, '/v1/tasks/:id'],
  [/^\/v1\/callbacks\/[^/]+$/, '/v1/callbacks/:callbackId'],
  [/^\/v1\/signals\/[^/]+$/, '/v1/signals/:signalToken'],
  [/^\/v1\/tokens\/[^/]+$/, '/v1/tokens/:id'],
  [/^\/docs\/.+$/, '/docs/:asset'],
];

const FIXED = new Set([
  '/v1/tasks',
  '/v1/providers',
  '/v1/tokens',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/docs',
]);

export function routeLabel(pathname: string): string {
  if (FIXED.has(pathname)) return pathname;
  if (pathname.startsWith('/trpc/')) return `/trpc/${pathname.slice(6).split(/[,?]/)[0]?.slice(0, 60) ?? ''}`;
  for (const [pattern, label] of PATTERNS) if (pattern.test(pathname)) return label;
  return 'other';
}
