import fc from 'fast-check';
import { badBytes, deepJsonText, nastyNumber, nastyString, nastyValue, urlCandidates } from './fuzz-values.ts';

/**
 * The pieces the route fuzz (fuzz-requests.ts, test/fuzz-routes.test.ts) builds requests from:
 * headers, path segments, bodies, create inputs and tRPC calls. `creates` and `trpc` on a request
 * say what a 2xx answer means for the stored rows, so the test can check that nothing was stored
 * for a request that was refused.
 */

export type FuzzBody = { text: string } | { bytes: Uint8Array } | { fill: string; length: number };

export type FuzzRequest = {
  route: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: FuzzBody;
  creates?: 'task' | 'token' | 'token-delete';
  trpc?: { procedures: string[]; batch: boolean };
};

/** What the fuzz may aim at: a valid key, a loopback target, and credentials that exist. */
export type FuzzContext = {
  apiKey: string;
  fakeTarget: string;
  taskIds: string[];
  callbackIds: string[];
  signalTokens: string[];
  tokenIds: string[];
};

const PROCEDURES = [
  'tasks.create',
  'tasks.get',
  'tasks.list',
  'tasks.cancel',
  'tasks.redeliverWebhook',
  'tokens.create',
  'tokens.list',
  'tokens.delete',
  'providers.list',
];
// Headers whose value would change the HTTP framing itself: a fuzz of the routes, not of Node's parser.
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'host', 'expect', 'upgrade', 'te']);

const headerValue = fc
  .string({ unit: 'binary-ascii', maxLength: 60 })
  .map((s) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, ''));
const headerName = fc.oneof(
  fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
  fc.constantFrom('idempotency-key', 'x-forwarded-for', 'accept', 'accept-encoding', 'cookie', 'origin', 'range'),
);

export function requestHeaders(ctx: FuzzContext): fc.Arbitrary<Record<string, string>> {
  const auth = fc.oneof(
    { arbitrary: fc.constant({ authorization: `Bearer ${ctx.apiKey}` }), weight: 6 },
    { arbitrary: fc.constant({ 'x-api-key': ctx.apiKey }), weight: 2 },
    { arbitrary: fc.constant({}), weight: 2 },
    {
      arbitrary: fc.oneof(
        fc.stringMatching(/^async_[0-9A-Za-z]{48}$/).map((k) => ({ authorization: `Bearer ${k}` })),
        headerValue.map((v) => ({ authorization: v })),
        headerValue.map((v) => ({ 'x-api-key': v })),
        fc.constant({ authorization: `bearer  ${ctx.apiKey} ` }),
        fc.constant({ authorization: `Bearer ${ctx.apiKey}`, 'x-api-key': `async_${'0'.repeat(48)}` }),
        fc.constant({ authorization: `Basic ${Buffer.from(`u:${ctx.apiKey}`).toString('base64')}` }),
      ),
      weight: 2,
    },
  );
  const contentType = fc.oneof(
    { arbitrary: fc.constant('application/json'), weight: 6 },
    {
      arbitrary: fc.constantFrom(
        '',
        'text/plain',
        'application/json; charset=utf-16',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/octet-stream',
        'APPLICATION/JSON',
      ),
      weight: 3,
    },
    { arbitrary: headerValue, weight: 1 },
  );
  const extra = fc.dictionary(headerName, headerValue, { maxKeys: 4 });
  return fc.tuple(auth, contentType, extra).map(([a, ct, more]) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(more)) if (!FRAMING.has(name)) headers[name] = value;
    if (ct !== '') headers['content-type'] = ct;
    return { ...headers, ...a };
  });
}

/** encodeURIComponent, except that a lone surrogate (which it refuses) becomes the bytes of one: not UTF-8. */
function encodePathPart(s: string): string {
  return s.isWellFormed() ? encodeURIComponent(s) : `${encodeURIComponent(s.toWellFormed())}%ED%A0%80`;
}

/** A path segment: an id that exists, one that looks right but does not, or junk. */
export function segment(real: string[], shape: RegExp): fc.Arbitrary<string> {
  return fc.oneof(
    ...(real.length > 0 ? [{ arbitrary: fc.constantFrom(...real), weight: 3 }] : []),
    { arbitrary: fc.stringMatching(shape), weight: 2 },
    { arbitrary: nastyString.map(encodePathPart), weight: 3 },
    { arbitrary: fc.constantFrom('%00', '%ZZ', '%ff', '..', '%2e%2e', 'a%2Fb', ''), weight: 1 },
  );
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const HEX64 = /^[0-9a-f]{64}$/;
export const TOKEN_ID = /^tok_[0-9A-Za-z]{24}$/;
// Why these two: one byte over the whole-request cap of REST/tRPC (1 MiB + 64 KiB) and of callbacks (5 MiB).
const BIG = [1024 * 1024 + 64 * 1024 + 1, 5 * 1024 * 1024 + 1];

/** A JSON body built from `value`, or something that is not one at all (1 in ~380 is over a body cap). */
export function bodyFrom(value: fc.Arbitrary<unknown>): fc.Arbitrary<FuzzBody | undefined> {
  return fc.oneof(
    { arbitrary: value.map((v) => ({ text: JSON.stringify(v) ?? 'null' })), weight: 240 },
    { arbitrary: nastyValue.map((v) => ({ text: JSON.stringify(v) ?? 'null' })), weight: 40 },
    { arbitrary: fc.array(value, { maxLength: 3 }).map((v) => ({ text: JSON.stringify(v) })), weight: 20 },
    { arbitrary: badBytes.map((bytes) => ({ bytes })), weight: 40 },
    { arbitrary: deepJsonText.map((text) => ({ text })), weight: 20 },
    { arbitrary: fc.constant(undefined), weight: 20 },
    { arbitrary: fc.constantFrom(...BIG).map((length) => ({ fill: 'x', length })), weight: 1 },
  );
}

/** A valid create body with a few fields replaced by hostile or out-of-range values. */
export function createTaskInput(ctx: FuzzContext): fc.Arbitrary<Record<string, unknown>> {
  const field = fc.oneof(
    fc.tuple(fc.constant('targetUrl'), fc.oneof(urlCandidates(ctx.fakeTarget), nastyValue)),
    fc.tuple(fc.constant('onCompleteUrl'), fc.oneof(urlCandidates(ctx.fakeTarget), nastyValue)),
    fc.tuple(
      fc.constant('method'),
      fc.oneof(fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'get', 'FETCH'), nastyValue),
    ),
    fc.tuple(fc.constant('headers'), fc.oneof(fc.dictionary(nastyString, nastyString, { maxKeys: 55 }), nastyValue)),
    fc.tuple(fc.constant('body'), fc.oneof(nastyString, nastyValue)),
    fc.tuple(fc.constantFrom('timeout', 'maxRetries', 'priority', 'maxWaitTime'), fc.oneof(nastyNumber, nastyValue)),
    fc.tuple(fc.constant('retryBackoff'), fc.oneof(fc.constantFrom('linear', 'exponential', 'quadratic'), nastyValue)),
    fc.tuple(
      fc.constant('delayUntil'),
      fc.oneof(fc.constantFrom('2999-01-01T00:00:00.000Z', '2000-01-01T00:00:00Z', '2026-13-45T99:00:00Z'), nastyValue),
    ),
    fc.tuple(fc.constant('waitForSignal'), fc.oneof(fc.boolean(), nastyValue)),
    fc.tuple(
      fc.constant('provider'),
      fc.oneof(fc.constantFrom('fal', 'replicate', 'runway', 'luma', 'elevenlabs', 'nope'), nastyValue),
    ),
    fc.tuple(fc.constant('pollConfig'), nastyValue),
    fc.tuple(fc.constant('idempotencyKey'), nastyString),
    fc.tuple(fc.constantFrom('unknownField', '__proto__', 'constructor'), nastyValue),
  );
  return fc
    .array(field, { maxLength: 4 })
    .map((overrides) =>
      Object.fromEntries([
        ['targetUrl', ctx.fakeTarget],
        ['method', 'POST'],
        ['body', '{"prompt":"fuzz"}'],
        ...overrides,
      ]),
    );
}

/** tRPC: single calls (GET query or POST mutation) and batches, of real and made-up procedures. */
export function trpcRequest(
  ctx: FuzzContext,
  headers: fc.Arbitrary<Record<string, string>>,
): fc.Arbitrary<FuzzRequest> {
  const procedure = fc.oneof(
    { arbitrary: fc.constantFrom(...PROCEDURES), weight: 4 },
    { arbitrary: nastyString.map(encodePathPart), weight: 1 },
  );
  const input = fc.oneof(createTaskInput(ctx), nastyValue, fc.record({ id: segment(ctx.taskIds, UUID) }));
  const single = fc.tuple(procedure, fc.constantFrom('GET', 'POST'), input, bodyFrom(input), headers).map(
    ([name, method, value, body, h]): FuzzRequest => ({
      route: `trpc ${method}`,
      method,
      path:
        method === 'GET' ? `/trpc/${name}?input=${encodeURIComponent(JSON.stringify(value) ?? '')}` : `/trpc/${name}`,
      headers: h,
      ...(method === 'POST' && body ? { body } : {}),
      trpc: { procedures: [name], batch: false },
    }),
  );
  const batch = fc
    .tuple(fc.array(procedure, { minLength: 1, maxLength: 60 }), fc.array(input, { maxLength: 60 }), headers)
    .map(
      ([names, inputs, h]): FuzzRequest => ({
        route: 'trpc batch',
        method: 'POST',
        path: `/trpc/${names.join(',')}?batch=1`,
        headers: h,
        body: { text: JSON.stringify(Object.fromEntries(inputs.map((v, i) => [String(i), v]))) },
        trpc: { procedures: batchProcedures(names), batch: true },
      }),
    );
  return fc.oneof({ arbitrary: single, weight: 3 }, { arbitrary: batch, weight: 1 });
}

/**
 * The procedures of a batch as the server reads its path: decoded, then split at commas, so a
 * made-up name holding an encoded comma (`%2C`) is two procedures and the answers' indexes follow
 * (a path that does not decode is answered whole, with no item to match).
 */
function batchProcedures(names: readonly string[]): string[] {
  try {
    return decodeURIComponent(names.join(',')).split(',');
  } catch {
    return [...names];
  }
}

/** The bytes to send for a generated body (big ones are made only now, never kept in the sample). */
export function bodyBytes(body: FuzzBody | undefined): string | Uint8Array | undefined {
  if (body === undefined) return undefined;
  if ('text' in body) return body.text;
  if ('bytes' in body) return body.bytes;
  return Buffer.alloc(body.length, body.fill);
}

/** A short description of a request for a failure report (no multi-megabyte bodies). */
export function describeRequest(req: FuzzRequest): string {
  const body =
    req.body === undefined
      ? ''
      : 'text' in req.body
        ? req.body.text
        : 'bytes' in req.body
          ? `<${req.body.bytes.length} bytes: ${Buffer.from(req.body.bytes).toString('hex', 0, 64)}>`
          : `<${req.body.length} × ${req.body.fill}>`;
  return `${req.method} ${req.path.slice(0, 300)} ${JSON.stringify(req.headers).slice(0, 300)} ${body.slice(0, 400)}`;
}
