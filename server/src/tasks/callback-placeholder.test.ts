import { describe, expect, it } from 'vitest';
import { placeholderOnlyInQuery, substitutePlaceholder, usesCallbackPlaceholder } from './callback-placeholder.ts';

const P = '{asyncqueue_callback_url}';

describe('callback placeholder', () => {
  it.each([
    [`https://queue.fal.run/model?fal_webhook=${P}`, true],
    [`https://x.test/a?x=1&cb=${P}&y=${P}`, true],
    [`https://x.test/a?cb=${P}#frag`, true],
    [`https://x.test/${P}`, false],
    [`https://${P}/a`, false],
    [`${P}`, false],
    [`https://x.test/a#${P}`, false],
    [`https://x.test/a#frag?cb=${P}`, false],
    ['https://x.test/a?cb=1', true],
  ])('placeholderOnlyInQuery(%s) = %s', (url, expected) => {
    expect(placeholderOnlyInQuery(url)).toBe(expected);
  });

  it('detects the placeholder in url, headers and body', () => {
    expect(usesCallbackPlaceholder({ targetUrl: 'https://a.test/', headers: {}, body: null })).toBe(false);
    expect(usesCallbackPlaceholder({ targetUrl: 'https://a.test/', headers: { 'X-Cb': P }, body: null })).toBe(true);
    expect(usesCallbackPlaceholder({ targetUrl: 'https://a.test/', headers: {}, body: `{"webhook":"${P}"}` })).toBe(
      true,
    );
  });

  it('encodes in the query string and inserts as is elsewhere', () => {
    const cb = 'https://aq.example.com/v1/callbacks/abc';
    const out = substitutePlaceholder(
      { targetUrl: `https://q.test/m?fal_webhook=${P}`, headers: { 'X-Cb': P }, body: `{"w":"${P}"}` },
      cb,
    );
    expect(out.targetUrl).toBe(`https://q.test/m?fal_webhook=${encodeURIComponent(cb)}`);
    expect(out.headers['X-Cb']).toBe(cb);
    expect(out.body).toBe(`{"w":"${cb}"}`);
  });
});
