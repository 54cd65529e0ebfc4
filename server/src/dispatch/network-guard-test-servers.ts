import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from 'undici';
import { fetch } from 'undici';

// Local HTTP servers for the network guard tests (test support only, not used by the server).

export type TestServer = {
  readonly port: number;
  readonly hits: () => number;
  readonly close: () => Promise<void>;
};

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeAll(servers: readonly http.Server[]): Promise<void> {
  return Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  ).then(() => undefined);
}

/**
 * Serves `handler` on `host` (port 0 unless given), counting requests. With `alsoIpv6Loopback`,
 * the same port also listens on ::1 when this machine has IPv6 loopback.
 */
export async function startServer(
  host: string,
  handler: Handler,
  opts: { port?: number; alsoIpv6Loopback?: boolean } = {},
): Promise<TestServer> {
  let hits = 0;
  const counted: Handler = (req, res) => {
    hits += 1;
    handler(req, res);
  };
  const servers = [http.createServer(counted)];
  const port = await listen(servers[0] as http.Server, opts.port ?? 0, host);
  if (opts.alsoIpv6Loopback) {
    const v6 = http.createServer(counted);
    const bound = await listen(v6, port, '::1').then(
      () => true,
      () => false,
    );
    if (bound) servers.push(v6);
  }
  return { port, hits: () => hits, close: () => closeAll(servers) };
}

/** A server that answers every request with `text`, closing the connection after each answer. */
export function startTextServer(host: string, text: string, opts: { port?: number; alsoIpv6Loopback?: boolean } = {}) {
  return startServer(
    host,
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      res.end(text);
    },
    opts,
  );
}

/** A server that redirects `/?to=<url>` to `<url>` with a 302. */
export function startRedirector(host: string): Promise<TestServer> {
  return startServer(host, (req, res) => {
    const target = new URL(req.url ?? '/', 'http://redirector').searchParams.get('to') ?? '/';
    res.writeHead(302, { location: target, connection: 'close' });
    res.end();
  });
}

/** Fetches through `agent`: the error it rejects with, or null after reading a response. */
export async function fetchError(url: string, agent: Agent, redirect: 'manual' | 'follow' = 'manual') {
  try {
    const response = await fetch(url, { dispatcher: agent, redirect });
    await response.arrayBuffer();
    return null;
  } catch (err) {
    return err;
  }
}

/** Fetches through `agent` and returns status, body and Location. */
export async function fetchText(url: string, agent: Agent) {
  const response = await fetch(url, { dispatcher: agent, redirect: 'manual' });
  return { status: response.status, text: await response.text(), location: response.headers.get('location') };
}
