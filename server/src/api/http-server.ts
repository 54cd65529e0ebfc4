import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '../logging/logger.ts';
import type { MetricsRegistry } from '../metrics/metrics-registry.ts';
import type { ApiServices } from './context.ts';
import { serveDashboard } from './dashboard-page.ts';
import { serveDocs } from './docs-page.ts';
import type { HttpMetrics } from './http-metrics.ts';
import { clientIp, nodeHeaderReader, type RequestMeta } from './request-meta.ts';
import { createRestHandler } from './rest-handler.ts';
import { createRouteLabeler } from './route-label.ts';
import type { AppRouter } from './routers/app-router.ts';
import { sendJson } from './send-json.ts';
import { createTrpcHandler } from './trpc-handler.ts';

/** A raw (non-tRPC) route: callbacks and signals are hot, unauthenticated paths. */
export type RawRoute = {
  method: string;
  match: (pathname: string) => string | null;
  handle: (req: IncomingMessage, res: ServerResponse, param: string, meta: RequestMeta) => Promise<void>;
};

export type HttpServerDeps = {
  router: AppRouter;
  services: ApiServices;
  logger: Logger;
  registry: MetricsRegistry;
  httpMetrics: HttpMetrics;
  maxBodyBytes: number;
  trustProxy: number;
  /** False for ASYNCQUEUE_ROLE=worker: only health, readiness and metrics are served. */
  apiEnabled: boolean;
  openApiDocument: () => unknown;
  isReady: () => Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  rawRoutes: RawRoute[];
  limits: HttpLimits;
};

/** Connection limits of the node:http server (configurable, see config-schema.ts). */
export type HttpLimits = {
  /** Open connections beyond this are refused at once (each costs a socket and memory). */
  maxConnections: number;
  /** Time to receive a request's headers; a client trickling them is cut. */
  headersTimeoutMs: number;
  /** Time to receive the whole request (headers and body), never the response: long-polls are not bound by it. */
  requestTimeoutMs: number;
};

/**
 * Why 5 s: an idle keep-alive connection is cheap to reopen, while each one held counts against
 * maxConnections; clients reuse a connection within milliseconds when they have more to send.
 */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Why 1 s: how often node checks the header and request timeouts; their precision, at O(connections)/s. */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

const REQUEST_ID = /^[\w.-]{1,64}$/;
const API_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The path of an origin-form request target (`/v1/tasks?x`), or null for anything else. Parsed
 * against a fixed origin, so `//host/…` is a path here, never an authority; a target the URL parser
 * refuses is a 400, not an exception thrown out of the request listener (it would end the process).
 */
function requestPath(target: string | undefined): string | null {
  if (!target?.startsWith('/')) return null;
  try {
    return new URL(`http://localhost${target}`).pathname;
  } catch {
    return null;
  }
}

type Route = (req: IncomingMessage, res: ServerResponse, pathname: string, meta: RequestMeta) => Promise<void>;
type RouteLabel = (pathname: string) => string;

export function createHttpServer(deps: HttpServerDeps): http.Server {
  const routeLabel = createRouteLabeler(Object.keys(deps.router._def.procedures));
  const route = createRouteTable(deps, routeLabel);
  const server = http.createServer(
    {
      headersTimeout: Math.min(deps.limits.headersTimeoutMs, deps.limits.requestTimeoutMs),
      requestTimeout: deps.limits.requestTimeoutMs,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    (req, res) => {
      const started = process.hrtime.bigint();
      const pathname = requestPath(req.url);
      const meta = buildRequestMeta(req, res, deps.trustProxy);
      res.setHeader('X-Request-Id', meta.requestId);
      res.on('finish', () => observeRequest(deps, req, res, routeLabel(pathname ?? ''), meta, started));
      if (pathname === null) {
        return sendJson(res, 400, {
          error: 'Invalid request target: expected a path such as /v1/tasks',
          code: 'validation_failed',
        });
      }
      route(req, res, pathname, meta).catch((error: unknown) => {
        deps.logger.error({ reqId: meta.requestId, err: error }, 'unhandled error in request');
        if (!res.headersSent) sendJson(res, 500, { error: 'Internal server error', code: 'internal_error' });
        else res.destroy();
      });
    },
  );
  server.maxConnections = deps.limits.maxConnections;
  return server;
}

/** The request's id (the client's X-Request-Id when well-formed), client IP, headers and abort signal. */
function buildRequestMeta(req: IncomingMessage, res: ServerResponse, trustProxy: number): RequestMeta {
  const incomingId = nodeHeaderReader(req)('x-request-id');
  const controller = new AbortController();
  // Only a client that hung up early aborts its work (e.g. a parked long-poll); a finished response does not.
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return {
    requestId: incomingId && REQUEST_ID.test(incomingId) ? incomingId : randomUUID(),
    method: req.method,
    clientIp: clientIp(req, trustProxy),
    header: nodeHeaderReader(req),
    responseHeaders: {},
    successStatus: undefined,
    signal: controller.signal,
  };
}

/** A finished request: its latency into the HTTP metrics, one log line (route label, never the raw path). */
function observeRequest(
  deps: HttpServerDeps,
  req: IncomingMessage,
  res: ServerResponse,
  label: string,
  meta: RequestMeta,
  started: bigint,
): void {
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  deps.httpMetrics.observe(req.method ?? 'GET', label, res.statusCode, seconds);
  deps.logger.info(
    {
      reqId: meta.requestId,
      method: req.method,
      route: label,
      status: res.statusCode,
      ms: Math.round(seconds * 1e4) / 10,
    },
    'request',
  );
}

/** Which handler serves a path: raw routes, tRPC, REST, then health, readiness, metrics and docs; else 404. */
function createRouteTable(deps: HttpServerDeps, routeLabel: RouteLabel): Route {
  const rest = createRestHandler({ router: deps.router, services: deps.services, maxBodyBytes: deps.maxBodyBytes });
  const trpc = createTrpcHandler({ router: deps.router, services: deps.services, maxBodyBytes: deps.maxBodyBytes });
  return async (req, res, pathname, meta) => {
    const method = req.method ?? 'GET';
    // Methods no route serves (TRACE, CONNECT, PROPFIND…) never reach the API handlers: a Fetch
    // Request cannot even carry some of them. They get the 404 below.
    const api = deps.apiEnabled && API_METHODS.has(method);
    for (const raw of api ? deps.rawRoutes : []) {
      const param = raw.method === method ? raw.match(pathname) : null;
      if (param !== null) return raw.handle(req, res, param, meta);
    }
    if (api && pathname.startsWith('/trpc/')) return trpc(req, res, meta);
    if (api && (pathname === '/v1' || pathname.startsWith('/v1/'))) return rest(req, res, meta);
    if (method === 'GET' && (await serveOperational(deps, res, pathname, api))) return;
    sendJson(res, 404, {
      error: `Not found: ${method} ${routeLabel(pathname)}; see /docs for the API`,
      code: 'not_found',
    });
  };
}

/** GET /healthz, /readyz, /metrics, and (with the API) /openapi.json, the dashboard and the docs; false for any other path. */
async function serveOperational(
  deps: HttpServerDeps,
  res: ServerResponse,
  pathname: string,
  api: boolean,
): Promise<boolean> {
  if (pathname === '/healthz') {
    sendJson(res, 200, { status: 'ok' });
    return true;
  }
  if (pathname === '/readyz') {
    const readiness = await deps.isReady();
    sendJson(res, readiness.ready ? 200 : 503, { status: readiness.ready ? 'ready' : 'not ready', ...readiness });
    return true;
  }
  if (pathname === '/metrics') {
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(await deps.registry.render());
    return true;
  }
  if (api && pathname === '/openapi.json') {
    sendJson(res, 200, deps.openApiDocument());
    return true;
  }
  return api && ((await serveDashboard(pathname, res)) || (await serveDocs(pathname, res)));
}
