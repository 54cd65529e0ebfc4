import { BASE_TASK } from './tasks.ts';

/** One request POST /v1/tasks must refuse, and how (status, code and the fields named in details). */
export type RejectCase = {
  name: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  /** Default 400. */
  status?: number;
  /** Default `validation_failed` for 400s. */
  code?: string;
  /** Each must be the `path` of some detail (400s only). */
  paths?: string[];
};

export const MiB = 1024 * 1024;
const PH = '{asyncqueue_callback_url}';

/** 524 289 two-byte characters: fewer characters than 1 MiB, more UTF-8 bytes than 1 MiB. */
export const MULTIBYTE_OVER_LIMIT = 'é'.repeat(MiB / 2 + 1);
/** Exactly 1 MiB of UTF-8 bytes: the largest body accepted. */
export const MULTIBYTE_AT_LIMIT = 'é'.repeat(MiB / 2);

const withField = (field: string, value: unknown) => ({ ...BASE_TASK, [field]: value });
const reject = (name: string, field: string, value: unknown, path = field): RejectCase => ({
  name,
  body: withField(field, value),
  paths: [path],
});

const validPoll = {
  urlTemplate: 'https://example.com/status/{startResult.body.id}',
  statusPath: 'status',
  doneValues: ['done'],
  failValues: ['failed'],
};

const fiftyOneHeaders = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`X-H${i}`, 'v']));

/** IP literals the network guard refuses at creation (the test app allows only 127.0.0.0/8). */
export const REFUSED_IP_URLS = [
  'http://10.0.0.1/x',
  'http://169.254.169.254/latest/meta-data/',
  'http://[::ffff:10.0.0.1]/x',
  'http://2852039166/x',
  'http://0xA9FEA9FE/x',
  'http://192.168.1.1/x',
];

export const REJECT_CASES: RejectCase[] = [
  reject('unknown field', 'colour', 'red'),
  // wrong types
  reject('timeout as a string', 'timeout', '30'),
  reject('waitForSignal as a string', 'waitForSignal', 'false'),
  reject('priority not an integer', 'priority', 1.5),
  reject('maxRetries as a string', 'maxRetries', '3'),
  reject('maxWaitTime as a boolean', 'maxWaitTime', true),
  reject('body as a number', 'body', 123),
  reject('method as a number', 'method', 1),
  reject('headers as a string', 'headers', 'X-A: b'),
  reject('headers as an array', 'headers', ['X-A', 'b']),
  reject('header value a number', 'headers', { 'X-Count': 1 }, 'headers.X-Count'),
  reject('delayUntil as a number', 'delayUntil', 1_700_000_000_000),
  reject('pollConfig as a string', 'pollConfig', 'fast'),
  reject('retryBackoff as a number', 'retryBackoff', 2),
  reject('onCompleteUrl as a number', 'onCompleteUrl', 7),
  reject('provider as a number', 'provider', 1),
  reject('idempotencyKey as a number', 'idempotencyKey', 123),
  reject('pollConfig.interval as a string', 'pollConfig', { ...validPoll, interval: '5' }, 'pollConfig.interval'),
  // targetUrl
  { name: 'targetUrl missing', body: { body: '{}' }, paths: ['targetUrl'] },
  reject('targetUrl a number', 'targetUrl', 42),
  reject('targetUrl empty', 'targetUrl', ''),
  reject('targetUrl not a URL', 'targetUrl', 'not a url'),
  reject('targetUrl ftp:', 'targetUrl', 'ftp://example.com/file'),
  reject('targetUrl javascript:', 'targetUrl', 'javascript:alert(1)'),
  reject('targetUrl over 2048 chars', 'targetUrl', `https://example.com/${'a'.repeat(2029)}`),
  reject('targetUrl with credentials', 'targetUrl', 'https://user:pass@example.com/x'),
  reject('targetUrl placeholder in path', 'targetUrl', `https://example.com/${PH}`),
  reject('targetUrl placeholder in host', 'targetUrl', `https://${PH}/x`),
  reject('targetUrl placeholder in fragment', 'targetUrl', `https://example.com/x?a=1#${PH}`),
  // method
  reject('method HEAD', 'method', 'HEAD'),
  reject('method CONNECT', 'method', 'CONNECT'),
  // headers
  reject('more than 50 headers', 'headers', fiftyOneHeaders, 'headers'),
  reject('header name with a space', 'headers', { 'Bad Header': 'x' }, 'headers.Bad Header'),
  reject('header name with a colon', 'headers', { 'x:y': 'x' }, 'headers.x:y'),
  reject('header value with CR', 'headers', { 'X-A': 'a\rb' }, 'headers.X-A'),
  reject('header value with LF', 'headers', { 'X-A': 'a\nInjected: 1' }, 'headers.X-A'),
  reject('content-length header', 'headers', { 'content-length': '10' }, 'headers.content-length'),
  reject('transfer-encoding header', 'headers', { 'Transfer-Encoding': 'chunked' }, 'headers.Transfer-Encoding'),
  reject('x-asyncqueue-* header', 'headers', { 'x-asyncqueue-foo': '1' }, 'headers.x-asyncqueue-foo'),
  reject('duplicate header names differing by case', 'headers', { 'X-Dup': 'a', 'x-dup': 'b' }, 'headers.x-dup'),
  // body
  { name: 'body over 1 MiB in UTF-8 bytes', body: withField('body', MULTIBYTE_OVER_LIMIT), paths: ['body'] },
  {
    name: 'whole request over 1 MiB + 64 KiB',
    rawBody: JSON.stringify(withField('body', 'a'.repeat(MiB + 64 * 1024 + 1))),
    headers: { 'content-type': 'application/json' },
    status: 413,
    code: 'payload_too_large',
  },
  // numbers out of range
  reject('timeout 0', 'timeout', 0),
  reject('timeout 601', 'timeout', 601),
  reject('maxRetries -1', 'maxRetries', -1),
  reject('maxRetries 11', 'maxRetries', 11),
  reject('retryBackoff fibonacci', 'retryBackoff', 'fibonacci'),
  reject('delayUntil tomorrow', 'delayUntil', 'tomorrow'),
  reject('priority 0', 'priority', 0),
  reject('priority 11', 'priority', 11),
  reject('maxWaitTime 0', 'maxWaitTime', 0),
  reject('maxWaitTime 86401', 'maxWaitTime', 86_401),
  // onCompleteUrl
  reject('onCompleteUrl ftp:', 'onCompleteUrl', 'ftp://example.com/done'),
  reject('onCompleteUrl not a URL', 'onCompleteUrl', 'done'),
  reject('onCompleteUrl placeholder in path', 'onCompleteUrl', `https://example.com/${PH}`),
  reject('onCompleteUrl placeholder in query', 'onCompleteUrl', `https://example.com/done?cb=${PH}`),
  // provider / pollConfig
  reject('unknown provider', 'provider', 'nope'),
  {
    name: 'provider together with pollConfig',
    body: { ...BASE_TASK, provider: 'replicate', pollConfig: validPoll },
    paths: ['pollConfig'],
  },
  {
    name: 'pollConfig missing required fields',
    body: withField('pollConfig', { urlTemplate: validPoll.urlTemplate }),
    paths: ['pollConfig.statusPath', 'pollConfig.doneValues', 'pollConfig.failValues'],
  },
  reject('pollConfig interval 0', 'pollConfig', { ...validPoll, interval: 0 }, 'pollConfig.interval'),
  reject('pollConfig interval 301', 'pollConfig', { ...validPoll, interval: 301 }, 'pollConfig.interval'),
  reject('pollConfig maxDuration 86401', 'pollConfig', { ...validPoll, maxDuration: 86_401 }, 'pollConfig.maxDuration'),
  reject('pollConfig unknown field', 'pollConfig', { ...validPoll, colour: 'red' }, 'pollConfig.colour'),
  // idempotency
  reject('idempotencyKey empty', 'idempotencyKey', ''),
  reject('idempotencyKey 256 chars', 'idempotencyKey', 'k'.repeat(256)),
  {
    name: 'Idempotency-Key header empty',
    body: BASE_TASK,
    headers: { 'idempotency-key': '' },
    paths: ['idempotencyKey'],
  },
  {
    name: 'Idempotency-Key header 256 chars',
    body: BASE_TASK,
    headers: { 'idempotency-key': 'k'.repeat(256) },
    paths: ['idempotencyKey'],
  },
  {
    name: 'Idempotency-Key header and idempotencyKey field differ',
    body: withField('idempotencyKey', 'key-a'),
    headers: { 'idempotency-key': 'key-b' },
    paths: ['idempotencyKey'],
  },
  // network guard on IP literals at creation
  ...REFUSED_IP_URLS.map((url) => reject(`targetUrl ${url}`, 'targetUrl', url)),
  ...REFUSED_IP_URLS.map((url) => reject(`onCompleteUrl ${url}`, 'onCompleteUrl', url)),
  // NUL (U+0000) in any text field: 400 naming the field (PostgreSQL cannot store it; was a 500)
  reject('NUL in body', 'body', 'a\u0000b'),
  reject('NUL in a header value', 'headers', { 'X-A': 'a\u0000b' }, 'headers.X-A'),
  reject('NUL in targetUrl', 'targetUrl', 'https://example.com/a\u0000b'),
  reject('NUL in onCompleteUrl', 'onCompleteUrl', 'https://example.com/done?x=\u0000'),
  reject('NUL in idempotencyKey', 'idempotencyKey', 'key\u0000'),
  reject(
    'NUL in pollConfig.statusPath',
    'pollConfig',
    { ...validPoll, statusPath: 'st\u0000' },
    'pollConfig.statusPath',
  ),
  reject(
    'NUL in pollConfig.doneValues',
    'pollConfig',
    { ...validPoll, doneValues: ['do\u0000ne'] },
    'pollConfig.doneValues.0',
  ),
  // Host is the target's (from targetUrl), in any case
  reject('Host header', 'headers', { Host: 'internal.example' }, 'headers.Host'),
  reject('host header in lower case', 'headers', { host: 'internal.example' }, 'headers.host'),
  // a value shaped like a vault reference must name a live token of the team
  reject(
    'vault-shaped header value naming no token (short id)',
    'headers',
    { Authorization: 'tok_abc123' },
    'headers.Authorization',
  ),
  reject(
    'vault-shaped header value naming no token (24 chars)',
    'headers',
    { 'X-Key': `tok_${'A'.repeat(24)}` },
    'headers.X-Key',
  ),
  // transport
  {
    name: 'a JSON array as the body: one detail for the whole body, path ""',
    body: [BASE_TASK],
    paths: [''],
  },
  {
    name: 'a JSON string as the body',
    body: 'https://example.com/hook',
    paths: [''],
  },
  {
    name: 'non-JSON body',
    rawBody: '{"targetUrl": "https://example.com/hook", ',
    headers: { 'content-type': 'application/json' },
    paths: [''],
  },
  {
    name: 'text/plain content type',
    rawBody: JSON.stringify(BASE_TASK),
    headers: { 'content-type': 'text/plain' },
    status: 415,
    code: 'unsupported_media_type',
  },
];
