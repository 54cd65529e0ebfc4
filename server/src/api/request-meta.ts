import type { IncomingMessage } from 'node:http';
import type { Principal } from '../auth/authenticate.ts';

/** What the HTTP layer knows about a request before tRPC sees it. */
export type RequestMeta = {
  requestId: string;
  /** The HTTP method (a cookie-signed request that is not GET/HEAD/OPTIONS must carry the CSRF token). */
  method?: string;
  clientIp: string;
  header(name: string): string | undefined;
  /** Headers to add to the response (rate limit, Idempotent-Replayed…), filled by procedures. */
  responseHeaders: Record<string, string>;
  /** Status for a successful response when not 200 (201 for create). */
  successStatus: number | undefined;
  signal: AbortSignal;
  /** The request's authentication, made once and shared by its procedures (see admission.ts). */
  admission?: Promise<Principal>;
};

/**
 * tRPC's context factory receives the request object its adapter was handed: a Node IncomingMessage
 * (stock tRPC adapter) or a light Request (REST, and tRPC's plain calls: rest-adapter-io.ts,
 * trpc-fetch-io.ts). Each is registered here, so the context never parses headers twice.
 */
const metas = new WeakMap<object, RequestMeta>();

export function attachMeta(req: object, meta: RequestMeta): void {
  metas.set(req, meta);
}

export function metaOf(req: object): RequestMeta {
  const meta = metas.get(req);
  if (!meta) throw new Error('request reached tRPC without going through the HTTP server');
  return meta;
}

/** Client IP: the socket address, or X-Forwarded-For's entry `trustProxy` hops from the right. */
export function clientIp(req: IncomingMessage, trustProxy: number): string {
  const socketIp = req.socket.remoteAddress ?? 'unknown';
  if (trustProxy <= 0) return socketIp;
  const forwarded = String(req.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return forwarded[forwarded.length - trustProxy] ?? forwarded[0] ?? socketIp;
}

export function nodeHeaderReader(req: IncomingMessage): (name: string) => string | undefined {
  return (name) => {
    const value = req.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
}

/**
 * tRPC `responseMeta` for both transports: the success status a procedure chose (201, 202) and the
 * headers it set (rate limit, Idempotent-Replayed). Errors keep the status of their code.
 */
export function responseMetaFromContext({ ctx, errors }: { ctx?: unknown; errors: readonly unknown[] }) {
  const meta = (ctx as { meta?: RequestMeta } | undefined)?.meta;
  return {
    status: errors.length === 0 ? meta?.successStatus : undefined,
    headers: meta?.responseHeaders ?? {},
  } as never;
}
