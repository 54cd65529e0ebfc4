/** The literal a client puts where the provider needs our callback URL. */
export const CALLBACK_PLACEHOLDER = '{asyncqueue_callback_url}';

export function containsPlaceholder(text: string | null | undefined): boolean {
  return typeof text === 'string' && text.includes(CALLBACK_PLACEHOLDER);
}

/** True when every placeholder in the URL is inside its query string (the only place it may be). */
export function placeholderOnlyInQuery(url: string): boolean {
  const hash = url.indexOf('#');
  const fragment = hash === -1 ? url.length : hash;
  const question = url.indexOf('?');
  const query = question !== -1 && question < fragment ? question : -1;
  for (let at = url.indexOf(CALLBACK_PLACEHOLDER); at !== -1; at = url.indexOf(CALLBACK_PLACEHOLDER, at + 1)) {
    if (query === -1 || at < query || at >= fragment) return false;
  }
  return true;
}

/** Does the task need a callback id? Any placeholder in the URL, a header value or the body. */
export function usesCallbackPlaceholder(input: {
  targetUrl: string;
  headers: Record<string, string>;
  body?: string | null | undefined;
}): boolean {
  return (
    containsPlaceholder(input.targetUrl) ||
    containsPlaceholder(input.body) ||
    Object.values(input.headers).some((v) => containsPlaceholder(v))
  );
}

/**
 * Replaces every placeholder with the callback URL: percent-encoded (encodeURIComponent) inside
 * the target URL's query string, as is in header values and the body.
 */
export function substitutePlaceholder<
  T extends { targetUrl: string; headers: Record<string, string>; body: string | null },
>(request: T, callbackUrl: string): T {
  const all = (text: string, value: string) => text.split(CALLBACK_PLACEHOLDER).join(value);
  return {
    ...request,
    targetUrl: all(request.targetUrl, encodeURIComponent(callbackUrl)),
    headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, all(v, callbackUrl)])),
    body: request.body === null ? null : all(request.body, callbackUrl),
  };
}
