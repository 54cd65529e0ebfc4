import { z } from 'zod';
import { flowKeySchema } from '../flow/flow-key-format.ts';
import { NUL_MESSAGE, noNul } from '../shared/no-nul.ts';
import { CALLBACK_PLACEHOLDER, placeholderOnlyInQuery } from './callback-placeholder.ts';
import { PROVIDER_IDS } from './providers/index.ts';

/** Why: URLs longer than this are refused by most servers and proxies anyway. */
export const MAX_URL_LENGTH = 2048;
/** Why: a provider call never needs more; bounds the stored row and the masking work. */
export const MAX_HEADERS = 50;
/** Why: an Idempotency-Key is an opaque client id; 255 fits every UUID/ULID/hash scheme with room. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by undici or by AsyncQueue itself; a client value would break framing or our signature. */
const RESERVED_HEADERS = [
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'keep-alive',
  'te',
  'trailer',
  'expect',
  // The target's host comes from targetUrl; a different Host would send the request to one server
  // under another's name (and bypass what the network guard checked).
  'host',
];

function httpUrl(field: string, { allowPlaceholderInQuery }: { allowPlaceholderInQuery: boolean }) {
  return z
    .string({ error: `${field} must be a string` })
    .min(1, `${field} is required`)
    .max(MAX_URL_LENGTH, `${field} must be at most ${MAX_URL_LENGTH} characters`)
    .superRefine((value, ctx) => {
      if (value.includes('\u0000')) {
        ctx.addIssue({ code: 'custom', message: `${field} ${NUL_MESSAGE}` });
        return;
      }
      if (value.includes(CALLBACK_PLACEHOLDER)) {
        if (!allowPlaceholderInQuery) {
          ctx.addIssue({ code: 'custom', message: `${field} cannot contain ${CALLBACK_PLACEHOLDER}` });
          return;
        }
        if (!placeholderOnlyInQuery(value)) {
          ctx.addIssue({
            code: 'custom',
            message: `${CALLBACK_PLACEHOLDER} is only allowed in the query string of ${field}`,
          });
          return;
        }
      }
      let url: URL;
      try {
        url = new URL(value.split(CALLBACK_PLACEHOLDER).join('x'));
      } catch {
        ctx.addIssue({ code: 'custom', message: `${field} must be an absolute http or https URL` });
        return;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        ctx.addIssue({ code: 'custom', message: `${field} must use http or https, not ${url.protocol.slice(0, -1)}` });
      }
      if (url.username || url.password) {
        ctx.addIssue({ code: 'custom', message: `${field} must not contain credentials; send them in headers` });
      }
    });
}

const headersSchema = z
  .record(
    z.string(),
    z
      .string({ error: 'header values must be strings' })
      .refine((v) => !/[\r\n\0]/.test(v), 'header values must not contain CR, LF or NUL (U+0000)'),
    { error: 'headers must be an object of strings' },
  )
  .superRefine((headers, ctx) => {
    const names = Object.keys(headers);
    if (names.length > MAX_HEADERS) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_HEADERS} headers are allowed (got ${names.length})` });
    }
    const seen = new Set<string>();
    for (const name of names) {
      const lower = name.toLowerCase();
      if (!TOKEN.test(name))
        ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is not a valid header name` });
      else if (RESERVED_HEADERS.includes(lower))
        ctx.addIssue({ code: 'custom', path: [name], message: `${name} is set by the HTTP client; remove it` });
      else if (lower.startsWith('x-asyncqueue-'))
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `${name} is reserved: AsyncQueue sets X-AsyncQueue-* headers`,
        });
      if (seen.has(lower)) ctx.addIssue({ code: 'custom', path: [name], message: `header ${name} appears twice` });
      seen.add(lower);
    }
  });

export const pollConfigSchema = z
  .strictObject({
    urlTemplate: noNul(z.string())
      .min(1)
      .max(MAX_URL_LENGTH)
      .describe('Status URL; may use {startResult.body.<path>} and {startResult.headers.<name>}.'),
    statusPath: noNul(z.string())
      .min(1)
      .max(256)
      .describe('Dot path to the status in the JSON status response, or "$httpStatus" for the HTTP status code.'),
    doneValues: z.array(noNul(z.string()).min(1)).min(1).max(20).describe('Status values that mean done.'),
    failValues: z.array(noNul(z.string()).min(1)).max(20).describe('Status values that mean failed.'),
    interval: z.number().int().min(1).max(300).default(5).describe('Seconds between polls (1–300).'),
    maxDuration: z.number().int().min(1).max(86_400).default(600).describe('Seconds of polling before timeout.'),
    resultPath: noNul(z.string()).max(256).nullish().describe('Dot path to the result; empty or absent = whole body.'),
    resultUrlTemplate: noNul(z.string())
      .max(MAX_URL_LENGTH)
      .nullish()
      .describe('Fetch the final result from this URL.'),
    errorPath: noNul(z.string()).max(256).nullish().describe('Dot path to the error message when failed.'),
    forwardAuth: z
      .boolean()
      .default(false)
      .describe("Send the task's Authorization / X-API-Key / xi-api-key headers to the poll and result URLs."),
  })
  .describe('Custom polling of a provider status URL.');

export const createTaskInputSchema = z
  .strictObject({
    targetUrl: httpUrl('targetUrl', { allowPlaceholderInQuery: true }).describe(
      'The URL to call (http or https, at most 2048 characters). {asyncqueue_callback_url} may appear in the query string.',
    ),
    method: z
      .enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], { error: 'method must be GET, POST, PUT, PATCH or DELETE' })
      .default('POST'),
    headers: headersSchema.default({}).describe('Request headers (at most 50). Secret values are masked on read.'),
    body: noNul(z.string({ error: 'body must be a string' }))
      .nullish()
      .describe('Request body as text (ignored for GET).'),
    timeout: z.number().int().min(1).max(600).default(30).describe('Per-attempt HTTP timeout in seconds (1–600).'),
    maxRetries: z.number().int().min(0).max(10).default(3).describe('Retries after the first attempt (0–10).'),
    retryBackoff: z.enum(['exponential', 'linear']).default('exponential'),
    delayUntil: z.iso
      .datetime({ offset: true, error: 'delayUntil must be an ISO-8601 date-time such as 2026-01-15T10:30:00.000Z' })
      .nullish()
      .describe('Do not dispatch before this instant.'),
    priority: z.number().int().min(1).max(10).default(5).describe('1–10, higher first.'),
    waitForSignal: z.boolean().default(false).describe('After a successful call, wait for a signal or callback.'),
    maxWaitTime: z.number().int().min(1).max(86_400).default(300).describe('Seconds a task may stay waiting.'),
    onCompleteUrl: httpUrl('onCompleteUrl', { allowPlaceholderInQuery: false })
      .nullish()
      .describe('Completion webhook URL.'),
    provider: z
      .string()
      .refine((id) => PROVIDER_IDS.includes(id), { error: `provider must be one of ${PROVIDER_IDS.join(', ')}` })
      .nullish()
      .describe(`Provider preset id: ${PROVIDER_IDS.join(', ')}.`),
    pollConfig: pollConfigSchema.nullish(),
    flowKey: flowKeySchema('flowKey')
      .nullish()
      .describe(
        'Flow-control key whose limits apply (see /v1/flow-keys). Default: the provider preset id for a provider task; null for none.',
      ),
    idempotencyKey: noNul(z.string())
      .min(1)
      .max(MAX_IDEMPOTENCY_KEY_LENGTH)
      .nullish()
      .describe('Also accepted as the Idempotency-Key header.'),
  })
  .superRefine((input, ctx) => {
    if (input.provider && input.pollConfig) {
      ctx.addIssue({ code: 'custom', path: ['pollConfig'], message: 'use either provider or pollConfig, not both' });
    }
  });

export type CreateTaskInput = z.output<typeof createTaskInputSchema>;
export type PollConfigInput = z.output<typeof pollConfigSchema>;
