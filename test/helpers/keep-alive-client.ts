import http from 'node:http';

/**
 * An HTTP client for fuzz and hostile-load runs (test/fuzz-routes.test.ts, bench/hostile.ts): any method, any bytes as the body, header values
 * fetch() would refuse, on keep-alive connections (so thousands of requests do not each pay a TCP
 * handshake). It never rejects: a dropped connection is status 0 with the error, a request Node
 * itself refused to send is status -1.
 */

export type ClientRequest = {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
};

export type ClientResponse = { status: number; text: string; error?: string; headers: http.IncomingHttpHeaders };

// Why 30 s: longer than the longest long-poll a request can ask for (wait ≤ 25 s) plus slack, so
// only a server that stopped answering counts as a timeout.
const REQUEST_TIMEOUT_MS = 30_000;
// Why 64 KiB by default: enough of an answer to read an error body; the rest is discarded unless
// the caller asks for more (a created task echoes a body of up to 1 MiB, several once escaped).
const KEPT_RESPONSE_BYTES = 64 * 1024;

/** `localAddress` (a loopback address such as 127.0.0.2) makes the server see a client IP of its own. */
export function keepAliveAgent(maxSockets: number, localAddress?: string): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, ...(localAddress ? { localAddress } : {}) });
}

export function sendRequest(
  baseUrl: string,
  req: ClientRequest,
  agent: http.Agent,
  keptBytes = KEPT_RESPONSE_BYTES,
): Promise<ClientResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve) => {
    let settled = false;
    const done = (res: ClientResponse) => {
      if (settled) return;
      settled = true;
      resolve(res);
    };
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? Buffer.from(req.body) : req.body;
    const headers: Record<string, string | number> = { ...(req.headers ?? {}) };
    if (body !== undefined) headers['content-length'] = body.byteLength;
    let request: http.ClientRequest;
    try {
      request = http.request({
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers,
        agent,
        timeout: REQUEST_TIMEOUT_MS,
      });
    } catch (error) {
      done({ status: -1, text: '', error: String(error), headers: {} });
      return;
    }
    request.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept < keptBytes) chunks.push(chunk);
        kept += chunk.length;
      });
      res.on('end', () =>
        done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), headers: res.headers }),
      );
      res.on('error', (error) => done({ status: 0, text: '', error: String(error), headers: res.headers }));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    request.on('error', (error) => done({ status: 0, text: '', error: String(error), headers: {} }));
    request.end(body);
  });
}
