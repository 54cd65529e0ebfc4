import { generateOpenApiDocument } from 'trpc-to-openapi';
import { RAW_ROUTE_ERRORS, rawRoutePaths } from './openapi-raw-routes.ts';
import { refineOpenApiDocument } from './openapi-refine.ts';
import type { AppRouter } from './routers/app-router.ts';

/** Error statuses each operation can answer besides 401/429 (authed) and 500. */
const ERROR_STATUSES = {
  'tasks-create': ['400', '409', '413', '415'],
  'tasks-get': ['400', '404'],
  'tasks-list': ['400'],
  'tasks-cancel': ['400', '404', '409'],
  'tasks-redeliverWebhook': ['400', '404', '409'],
  'tasks-stats': [],
  'tasks-createMany': ['400', '409', '413', '415'],
  'tasks-cancelMany': ['400', '413', '415'],
  'tasks-replayMany': ['400', '413', '415'],
  'tasks-replay': ['400', '404', '409'],
  'tokens-create': ['400', '413', '415'],
  'tokens-list': [],
  'tokens-delete': ['400', '404'],
  'providers-list': [],
  'tasks-queue': ['400', '404'],
  'flowKeys-upsert': ['400', '413', '415'],
  'flowKeys-list': [],
  'flowKeys-get': ['400', '404'],
  'flowKeys-delete': ['400', '404'],
  'flowKeys-pause': ['400', '404'],
  'flowKeys-resume': ['400', '404'],
  ...RAW_ROUTE_ERRORS,
};

/** The OpenAPI document of the REST surface, with `servers` = PUBLIC_URL and full /v1 paths. */
export function buildOpenApiDocument(router: AppRouter, opts: { publicUrl: string; version: string }) {
  const doc = generateOpenApiDocument(router, {
    title: 'AsyncQueue API',
    description:
      'Durable HTTP calls for slow AI providers: create a task, AsyncQueue dispatches it, retries it, waits for the provider callback or polls it, and notifies you with a signed webhook.',
    version: opts.version,
    baseUrl: opts.publicUrl,
    paths: rawRoutePaths as never,
    license: { name: 'MIT', identifier: 'MIT' },
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer async_…' },
      apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'X-API-Key: async_…' },
    },
  });
  return refineOpenApiDocument(doc as never, {
    errorStatuses: ERROR_STATUSES,
    successStatus: {
      'tasks-create': '201',
      'tasks-replay': '201',
      'tasks-redeliverWebhook': '202',
      'tokens-create': '201',
    },
    tags: {
      tasks: 'Create (one or a batch), read, list, count, cancel and replay tasks; long-poll for their result',
      callbacks: 'Provider callbacks (no API key: the callback id is the credential)',
      signals: 'Signals for tasks that wait for an external event',
      tokens: 'The token vault: secrets referenced from task headers as tok_…',
      providers: 'Provider polling presets',
      events: 'Live task changes over Server-Sent Events',
      'flow-keys': 'Flow control: per-key concurrency and rate limits of outbound calls',
    },
  });
}
