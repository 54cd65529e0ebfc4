import type { HttpMethod } from '../tasks/task-types.ts';
import type { SignedRequest } from './signing.ts';

// Manual redirect following: which responses are redirects, where they lead, and what the next
// hop may carry (method, body, headers).

// Why 5: an attempt follows at most 5 redirects; more is a loop or a misconfigured target.
export const MAX_REDIRECTS = 5;

/** The statuses that redirect; 300, 304, 305 and 306 are returned as they are. */
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Headers that describe a request body: dropped with the body when a redirect turns into GET. */
const BODY_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-location',
]);

/** Credentials that must not follow a redirect to another origin. */
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set(['authorization', 'cookie', 'proxy-authorization', 'host']);
const CREDENTIAL_NAME_PARTS: readonly string[] = ['token', 'secret', 'key'];

/** What the caller of a request says about its hops beyond the first. */
export type HopPolicy = {
  /** Headers to set on every next hop, e.g. its own signature (each hop is signed for its own URL). */
  signHop?: (hop: SignedRequest) => Record<string, string>;
  /**
   * Names of headers whose value came from the vault: dropped on a cross-origin hop like
   * credentials, whatever their name (a secret in `X-Custom` is still a secret).
   */
  vaultHeaders?: readonly string[];
};

/** What one hop sends. */
export type Hop = {
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  body: string | null;
};

export type RedirectDecision =
  /** Not a redirect we follow (not a redirect status, or no usable Location): the response is final. */
  | { kind: 'final' }
  | { kind: 'follow'; hop: Hop }
  /** A Location we refuse to follow (another scheme than http/https). */
  | { kind: 'bad'; message: string };

/** Decides what a response with `statusCode` and `location` means for the hop that got it. */
export function decideRedirect(
  statusCode: number,
  location: unknown,
  current: Hop,
  policy: HopPolicy = {},
): RedirectDecision {
  if (!REDIRECT_STATUSES.has(statusCode) || typeof location !== 'string' || location.trim() === '') {
    return { kind: 'final' };
  }
  let next: URL;
  try {
    next = new URL(location.trim(), current.url);
  } catch {
    return { kind: 'final' };
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    return { kind: 'bad', message: `Redirect to an unsupported URL scheme (${next.protocol})` };
  }
  next.hash = '';
  return { kind: 'follow', hop: signed(nextHop(statusCode, next.href, current, policy), policy) };
}

function nextHop(statusCode: number, url: string, current: Hop, policy: HopPolicy): Hop {
  const toGet =
    (statusCode === 303 && current.method !== 'GET') ||
    ((statusCode === 301 || statusCode === 302) && current.method === 'POST');
  let headers = toGet ? withoutHeaders(current.headers, (name) => BODY_HEADERS.has(name)) : current.headers;
  if (new URL(url).origin !== new URL(current.url).origin) {
    const vault = new Set((policy.vaultHeaders ?? []).map((name) => name.toLowerCase()));
    headers = withoutHeaders(headers, (name) => isCredentialHeader(name) || vault.has(name));
  }
  return {
    url,
    method: toGet ? 'GET' : current.method,
    headers,
    body: toGet ? null : current.body,
  };
}

/** The hop with the headers `policy.signHop` sets for it (replacing the previous hop's, any case). */
function signed(hop: Hop, policy: HopPolicy): Hop {
  if (!policy.signHop) return hop;
  const own = policy.signHop({ method: hop.method, url: hop.url, body: hop.body });
  const names = new Set(Object.keys(own).map((name) => name.toLowerCase()));
  return { ...hop, headers: { ...withoutHeaders(hop.headers, (name) => names.has(name)), ...own } };
}

/** True for headers that carry credentials (by name): dropped on a cross-origin hop. */
export function isCredentialHeader(lowerName: string): boolean {
  return CREDENTIAL_HEADERS.has(lowerName) || CREDENTIAL_NAME_PARTS.some((part) => lowerName.includes(part));
}

function withoutHeaders(headers: Record<string, string>, drop: (lowerName: string) => boolean) {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !drop(name.toLowerCase())));
}
