/**
 * trpc-to-openapi describes errors with tRPC's own shape and every success as 200. Our REST
 * surface answers `{error, code?, details?}` and 201 on create: this pass makes the document say
 * what the server really does.
 */
type Json = Record<string, any>;

const ERROR_SCHEMA = {
  type: 'object',
  description: 'Every error body',
  properties: {
    error: { type: 'string', description: 'Human-readable message that says what to do next' },
    code: {
      type: 'string',
      description: 'Stable machine code',
      enum: [
        'validation_failed',
        'unauthorized',
        'not_found',
        'conflict',
        'idempotency_conflict',
        'payload_too_large',
        'unsupported_media_type',
        'rate_limited',
        'internal_error',
      ],
    },
    details: {
      type: 'array',
      description: 'For validation errors: one entry per bad field',
      items: {
        type: 'object',
        properties: {
          path: { type: 'string', description: 'Dot path of the field, "" for the whole body' },
          message: { type: 'string' },
        },
        required: ['path', 'message'],
      },
    },
  },
  required: ['error'],
};

const ERROR_DESCRIPTIONS: Record<string, string> = {
  '400': 'Invalid input: `details` names each bad field',
  '401': 'Missing, invalid or revoked API key',
  '404': 'Not found (also for another team’s task)',
  '409': 'The task is in the wrong state for this operation',
  '413': 'Request body too large',
  '415': 'Content-Type must be application/json',
  '429': 'Rate limited: see Retry-After',
  '500': 'Unexpected error (no internals are exposed)',
  '503':
    'Busy (too many request bodies being received at once, or too many open event streams): retry after Retry-After',
};

const RATE_HEADERS = {
  'X-RateLimit-Limit': { description: 'Requests allowed per 60 s window', schema: { type: 'integer' } },
  'X-RateLimit-Remaining': { description: 'Requests left in this window', schema: { type: 'integer' } },
  'X-RateLimit-Reset': { description: 'Unix time (s) when the window resets', schema: { type: 'integer' } },
};

const errorResponse = (status: string, secured: boolean) => ({
  description: ERROR_DESCRIPTIONS[status] ?? 'Error',
  ...(secured && status !== '401' ? { headers: RATE_HEADERS } : {}),
  ...(status === '429'
    ? { headers: { ...RATE_HEADERS, 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer' } } } }
    : {}),
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** Per operation: which error statuses it can answer (besides 500). */
export type ErrorStatuses = Record<string, string[]>;

export function refineOpenApiDocument(
  doc: Json,
  opts: { errorStatuses: ErrorStatuses; successStatus: Record<string, string>; tags: Record<string, string> },
): Json {
  doc.tags = Object.entries(opts.tags).map(([name, description]) => ({ name, description }));
  const schemas: Json = doc.components?.schemas ?? {};
  for (const name of Object.keys(schemas)) if (name.startsWith('error.')) delete schemas[name];
  schemas.Error = ERROR_SCHEMA;
  doc.components = { ...doc.components, schemas };
  for (const operations of Object.values(doc.paths ?? {}) as Json[]) {
    for (const operation of Object.values(operations) as Json[]) {
      const secured = Array.isArray(operation.security) && operation.security.length > 0;
      const statuses = [
        ...(opts.errorStatuses[operation.operationId] ?? []),
        ...(secured ? ['401', '429'] : []),
        '500',
      ];
      const successes = Object.entries(operation.responses as Json).filter(([code]) => code.startsWith('2'));
      const mapped = opts.successStatus[operation.operationId];
      operation.responses = {};
      for (const [code, response] of successes) {
        if (secured) response.headers = { ...RATE_HEADERS, ...(response.headers ?? {}) };
        operation.responses[code === '200' && mapped ? mapped : code] = response;
      }
      if (mapped === '201' && operation.responses['201']) {
        operation.responses['200'] = {
          ...operation.responses['201'],
          description: 'Idempotent replay of the original 201 (header Idempotent-Replayed: true)',
        };
      }
      operation.security ??= [];
      for (const status of [...new Set(statuses)].sort()) operation.responses[status] = errorResponse(status, secured);
    }
  }
  return doc;
}
