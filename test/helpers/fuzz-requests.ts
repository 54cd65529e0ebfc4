import fc from 'fast-check';
import {
  bodyFrom,
  createTaskInput,
  type FuzzBody,
  type FuzzContext,
  type FuzzRequest,
  HEX64,
  requestHeaders,
  segment,
  TOKEN_ID,
  trpcRequest,
  UUID,
} from './fuzz-parts.ts';
import { nastyValue } from './fuzz-values.ts';

/** One generated request for any public route of the server (test/fuzz-routes.test.ts). */

export { bodyBytes, describeRequest, type FuzzContext, type FuzzRequest } from './fuzz-parts.ts';

type Route = {
  route: string;
  method: string;
  path: fc.Arbitrary<string>;
  body?: fc.Arbitrary<FuzzBody | undefined>;
  creates?: FuzzRequest['creates'];
  weight: number;
};

const WAIT = fc.constantFrom(
  '',
  '?wait=0',
  '?wait=1',
  '?wait=-1',
  '?wait=26',
  '?wait=abc',
  '?wait=1e9',
  '?wait=0&wait=1',
);
const QUERY = fc.constantFrom(
  '',
  '?limit=0',
  '?limit=101',
  '?limit=-1',
  '?limit=abc',
  '?status=done',
  '?status=completed',
  '?cursor=%00',
  '?cursor=zzz',
  '?limit=1&cursor=',
);
const SIGNAL_BODY = fc.record(
  { status: fc.oneof(fc.constantFrom('completed', 'failed'), nastyValue), result: nastyValue, error: nastyValue },
  { requiredKeys: [] },
);
const TOKEN_BODY = fc.record(
  { name: fc.oneof(fc.constant('fuzz'), nastyValue), value: fc.oneof(fc.constant('secret'), nastyValue) },
  { requiredKeys: [] },
);
const JUNK_METHOD = fc.constantFrom('PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND');
const JUNK_METHOD_PATH = fc.constantFrom(
  '/v1/tasks',
  '/v1/tokens',
  '/v1/providers',
  '/healthz',
  '/trpc/tasks.list',
  '/v1/callbacks/x',
);
const OPS = fc.constantFrom('/healthz', '/readyz', '/metrics', '/openapi.json', '/docs', '/docs/', '/healthz?x=%00');
const RANDOM_PATH = fc
  .array(segment([], UUID), { minLength: 1, maxLength: 4 })
  .chain((parts) =>
    fc.constantFrom('/', '/v1/', '/trpc/', '/v1/tasks/', '/docs/').map((p) => `${p}${parts.join('/')}`),
  );

/** The REST and raw routes, weighted towards the ones that take input. */
function routes(ctx: FuzzContext): Route[] {
  const task = segment(ctx.taskIds, UUID);
  const anyBody = bodyFrom(nastyValue);
  return [
    {
      route: 'POST /v1/tasks',
      method: 'POST',
      path: fc.constant('/v1/tasks'),
      body: bodyFrom(createTaskInput(ctx)),
      creates: 'task',
      weight: 8,
    },
    { route: 'GET /v1/tasks', method: 'GET', path: QUERY.map((q) => `/v1/tasks${q}`), weight: 2 },
    {
      route: 'GET /v1/tasks/:id',
      method: 'GET',
      path: fc.tuple(task, WAIT).map(([id, w]) => `/v1/tasks/${id}${w}`),
      weight: 3,
    },
    {
      route: 'POST cancel',
      method: 'POST',
      path: task.map((id) => `/v1/tasks/${id}/cancel`),
      body: anyBody,
      weight: 2,
    },
    {
      route: 'POST redeliver',
      method: 'POST',
      path: task.map((id) => `/v1/tasks/${id}/webhook/redeliver`),
      body: anyBody,
      weight: 2,
    },
    {
      route: 'POST /v1/tokens',
      method: 'POST',
      path: fc.constant('/v1/tokens'),
      body: bodyFrom(TOKEN_BODY),
      creates: 'token',
      weight: 3,
    },
    { route: 'GET /v1/tokens', method: 'GET', path: QUERY.map((q) => `/v1/tokens${q}`), weight: 1 },
    {
      route: 'DELETE /v1/tokens/:id',
      method: 'DELETE',
      path: segment(ctx.tokenIds, TOKEN_ID).map((id) => `/v1/tokens/${id}`),
      creates: 'token-delete',
      weight: 2,
    },
    { route: 'GET /v1/providers', method: 'GET', path: QUERY.map((q) => `/v1/providers${q}`), weight: 1 },
    {
      route: 'POST callback',
      method: 'POST',
      path: segment(ctx.callbackIds, HEX64).map((id) => `/v1/callbacks/${id}`),
      body: anyBody,
      weight: 4,
    },
    {
      route: 'POST signal',
      method: 'POST',
      path: segment(ctx.signalTokens, HEX64).map((id) => `/v1/signals/${id}`),
      body: bodyFrom(SIGNAL_BODY),
      weight: 4,
    },
    { route: 'GET ops', method: 'GET', path: OPS, weight: 2 },
    { route: 'random path', method: 'POST', path: RANDOM_PATH, body: anyBody, weight: 2 },
  ];
}

/** Every public route: the REST and raw ones, tRPC (single and batch), and known paths with a wrong method. */
export function fuzzRequest(ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const headers = requestHeaders(ctx);
  const fromRoute = (r: Route) =>
    fc.tuple(r.path, headers, r.body ?? fc.constant(undefined)).map(
      ([path, h, body]): FuzzRequest => ({
        route: r.route,
        method: r.method,
        path,
        headers: h,
        ...(body ? { body } : {}),
        ...(r.creates ? { creates: r.creates } : {}),
      }),
    );
  const wrongMethod = fc.tuple(JUNK_METHOD, JUNK_METHOD_PATH, headers, bodyFrom(nastyValue)).map(
    ([method, path, h, body]): FuzzRequest => ({
      route: 'wrong method',
      method,
      path,
      headers: h,
      ...(body ? { body } : {}),
    }),
  );
  return fc.oneof(
    ...routes(ctx).map((r) => ({ arbitrary: fromRoute(r), weight: r.weight })),
    { arbitrary: trpcRequest(ctx, headers), weight: 6 },
    { arbitrary: wrongMethod, weight: 1 },
  );
}
