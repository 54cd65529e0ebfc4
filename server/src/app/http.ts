import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBodyReadSlots } from '../api/body-read-slots.ts';
import { dashboardSessionRoutes } from '../api/dashboard-session-routes.ts';
import { externalRoutes } from '../api/external-routes.ts';
import { registerHttpMetrics } from '../api/http-metrics.ts';
import { createHttpServer } from '../api/http-server.ts';
import { buildOpenApiDocument } from '../api/openapi-document.ts';
import { appRouter } from '../api/routers/app-router.ts';
import type { Config } from '../config/config.ts';
import { createEventHub } from '../events/event-hub.ts';
import { eventsRoute } from '../events/events-route.ts';
import type { Logger } from '../logging/logger.ts';
import type { Domain } from './domain.ts';
import type { Storage } from './storage.ts';

/** The HTTP server of an instance, and its shutdown in two phases. */
export type HttpPart = {
  server: http.Server;
  /** Listens on the configured host and port; resolves with the bound port. */
  listen(): Promise<number>;
  /** Stops accepting connections and reports not ready; open requests go on. */
  stopAccepting(): void;
  /** Ends the connections still open; resolves when the server has closed. */
  closeConnections(): Promise<void>;
};

/**
 * Why 4: callback and signal bodies read at once (each up to 5 MiB, more once parsed) stay within a
 * few tens of MiB; a normal callback is read in milliseconds, so 4 slots serve hundreds a second.
 */
const CALLBACK_BODY_SLOTS = 4;

/** Creates the HTTP server (REST, tRPC, callbacks and signals, health, metrics, docs); not listening yet. */
export function createHttpPart(config: Config, logger: Logger, storage: Storage, domain: Domain): HttpPart {
  let stopping = false;
  let closed: Promise<void> = Promise.resolve();
  let openApi: unknown;
  const server = createHttpServer({
    router: appRouter,
    services: domain.services,
    logger,
    registry: domain.registry,
    httpMetrics: registerHttpMetrics(domain.registry),
    maxBodyBytes: config.maxBodyBytes,
    trustProxy: config.trustProxy,
    apiEnabled: config.role !== 'worker',
    openApiDocument: () => {
      openApi ??= buildOpenApiDocument(appRouter, { publicUrl: config.publicUrl, version: config.version });
      return openApi;
    },
    isReady: async () => {
      // Bounded (database-probe.ts): a database that stops answering is a 503 within a second.
      const databaseUp = await storage.databaseProbe.reachable();
      return { ready: databaseUp && !stopping, checks: { database: databaseUp, queue: !stopping } };
    },
    rawRoutes: [
      ...dashboardSessionRoutes({ services: domain.services, secureCookie: config.publicUrl.startsWith('https:') }),
      ...externalRoutes({
        lifecycle: domain.lifecycle,
        callbackLimiter: domain.callbackLimiter,
        signalLimiter: domain.signalLimiter,
        maxCallbackBytes: config.maxCallbackBytes,
        bodySlots: createBodyReadSlots(CALLBACK_BODY_SLOTS),
      }),
      eventsRoute({
        orm: storage.orm,
        services: domain.services,
        hub: createLiveEvents(config, logger, storage, domain),
      }),
    ],
    limits: {
      maxConnections: config.maxConnections,
      headersTimeoutMs: config.httpHeadersTimeoutSeconds * 1000,
      requestTimeoutMs: config.httpRequestTimeoutSeconds * 1000,
    },
  });
  return {
    server,
    listen: () => listen(server, config),
    stopAccepting() {
      stopping = true;
      closed = new Promise<void>((resolve) => server.close(() => resolve()));
    },
    closeConnections() {
      server.closeAllConnections();
      return closed;
    },
  };
}

/** The live events of GET /v1/events: fed by the LISTEN connection, ended when it closes at shutdown. */
function createLiveEvents(config: Config, logger: Logger, storage: Storage, domain: Domain) {
  return createEventHub(
    storage.orm,
    domain.listener,
    {
      maxStreams: config.eventsMaxStreams,
      maxStreamsPerTeam: config.eventsMaxStreamsPerTeam,
      heartbeatMs: config.eventsHeartbeatSeconds * 1000,
    },
    (message) => logger.warn(message),
  );
}

async function listen(server: http.Server, config: Config): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Why a backlog as large as the connection cap (the kernel still caps it at somaxconn): Node's
    // default of 511 overflows when a burst of clients connects at once, and the kernel then drops
    // SYNs, so every client (not just the burst's) waits 1–3 s for its connection to be retried.
    server.listen({ port: config.port, host: config.host, backlog: config.maxConnections }, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
