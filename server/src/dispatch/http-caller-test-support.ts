import type { LookupAddress } from 'node:dns';
import type http from 'node:http';
import { createHttpCaller, type HttpCaller } from './http-caller.ts';
import { parseAllowedCidrs, type Resolver, systemResolver } from './network-guard.ts';
import type { OutboundRequest, OutboundResponse, OutboundResult } from './outbound-types.ts';

// Test support for the HTTP caller tests (not used by the server): local servers that record what
// they received, a caller allowed to reach loopback, and fake DNS names.

export { startServer, type TestServer } from './network-guard-test-servers.ts';

export type Received = {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The client's port: the same port twice means the same (pooled) connection. */
  remotePort: number | undefined;
};

/** Fake DNS: `rebind.test` answers loopback first, then a private address the guard refuses. */
const FAKE_DNS: Record<string, LookupAddress[]> = {
  'rebind.test': [
    { address: '127.0.0.1', family: 4 },
    { address: '10.0.0.1', family: 4 },
  ],
};

// Why: slower than the tests' 300 ms attempt timeout, short enough not to hold the agent's close.
export const SLOW_DNS_MS = 1_000;

/** Fake resolver: `nowhere.test` fails (ENOTFOUND), `slow.test` answers late, FAKE_DNS, else the system. */
export const fakeResolver: Resolver = (hostname) => {
  if (hostname === 'nowhere.test') {
    return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
  }
  if (hostname === 'slow.test') {
    return new Promise((resolve) => setTimeout(resolve, SLOW_DNS_MS, [{ address: '127.0.0.1', family: 4 }]));
  }
  const answer = FAKE_DNS[hostname];
  return answer ? Promise.resolve(answer) : systemResolver(hostname);
};

/** A caller that may reach 127.0.0.0/8 (the test servers) and nothing else private. */
export function loopbackCaller(): HttpCaller {
  return createHttpCaller({ allowed: parseAllowedCidrs('127.0.0.0/8'), lookup: fakeResolver });
}

/** Reads a request's body as text. */
export function readRequestBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A handler that records each request (with its body) into `log`, then runs `respond`. */
export function recording(
  log: Received[],
  respond: (req: http.IncomingMessage, res: http.ServerResponse, received: Received) => void,
) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    readRequestBody(req).then((body) => {
      const { method = '', url = '', headers } = req;
      const received: Received = { method, url, headers, body, remotePort: req.socket.remotePort };
      log.push(received);
      respond(req, res, received);
    }, res.destroy.bind(res));
  };
}

/** Defaults for a request: GET, no headers, no body, 5 s, 1 MiB. */
export function outbound(url: string, overrides: Partial<OutboundRequest> = {}): OutboundRequest {
  return { url, method: 'GET', headers: {}, body: null, timeoutMs: 5_000, maxResponseBytes: 1024 * 1024, ...overrides };
}

/** The response of a result that must be ok (throws with the failure otherwise). */
export function responseOf(result: OutboundResult): OutboundResponse {
  if (!result.ok) throw new Error(`expected a response, got ${result.failure.kind}: ${result.failure.message}`);
  return result.response;
}
