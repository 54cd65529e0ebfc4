import fc from 'fast-check';

/**
 * fast-check generators of hostile values for the route fuzz (test/fuzz-routes.test.ts): strings
 * with NUL, lone surrogates and control characters, numbers JSON cannot hold, deep nesting, bytes
 * that are not JSON or not UTF-8, and URLs that only ever point at loopback (the fuzz never makes
 * the server, or its DNS resolver, reach anywhere else).
 */

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uD800',
  'x\uDC00y',
  '\uFEFF',
  '\u202E',
  '\r\n',
  'x\r\nInjected: 1',
  '%00',
  '../../etc/passwd',
  '{asyncqueue_callback_url}',
  'tok_AAAAAAAAAAAAAAAAAAAAAAAA',
  '__proto__',
  'constructor',
  '😀'.repeat(50),
  'é'.repeat(3000),
];

/** Any string, biased towards the ones that break parsers, databases and loggers. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY_STRINGS), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 1 },
  { arbitrary: fc.integer({ min: 2049, max: 20_000 }).map((n) => 'x'.repeat(n)), weight: 1 },
);

/** Numbers at and past every edge (out of range, fractional, unsafe, negative zero). */
export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, -1, 1, 0.5, 1.5, 10, 11, 600, 601, 86_400, 86_401, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** A JSON value nested `depth` deep, as text (JSON.stringify would refuse nothing; this keeps it cheap). */
export const deepJsonText: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 50, max: 20_000 }), fc.constantFrom('[', '{"a":'))
  .map(([depth, open]) => `${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`);

/** Any value a JSON field could be given, nasty ones first. */
export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: nastyString, weight: 4 },
  { arbitrary: nastyNumber, weight: 3 },
  { arbitrary: fc.constantFrom(null, true, false, [], {}, [1, 2], { a: 1 }), weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
  { arbitrary: fc.dictionary(nastyString, nastyString, { maxKeys: 60 }), weight: 1 },
);

/** URLs for targetUrl / onCompleteUrl: loopback, forbidden schemes, disguised loopback, bad syntax. */
export function urlCandidates(fakeTarget: string): fc.Arbitrary<string> {
  return fc.constantFrom(
    fakeTarget,
    `${fakeTarget}?cb={asyncqueue_callback_url}`,
    'http://127.0.0.1:1/closed',
    'http://localhost:1/',
    'http://[::1]:1/',
    'http://2130706433:1/',
    'http://0x7f.1:1/',
    'http://{asyncqueue_callback_url}/',
    'file:///etc/passwd',
    'ftp://127.0.0.1/',
    'javascript:alert(1)',
    'http://',
    'http:// 127.0.0.1/',
    `http://127.0.0.1:1/${'a'.repeat(2100)}`,
    'not a url',
    '',
  );
}

/** Bytes that are not JSON, or not UTF-8, or both. */
export const badBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }),
  fc.constantFrom(
    Uint8Array.from([0xff, 0xfe, 0x7b, 0x00]),
    Uint8Array.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0xc3, 0x28, 0x7d]),
    Uint8Array.from([0xed, 0xa0, 0x80]),
    new TextEncoder().encode('{"a":1,}'),
    new TextEncoder().encode('{"a":'),
    new TextEncoder().encode('1e400'),
    new TextEncoder().encode(`{"n":${'9'.repeat(400)}}`),
    new TextEncoder().encode('{"a":"\\u0000","b":"\\ud800"}'),
  ),
);
