import type { IncomingMessage, ServerResponse } from 'node:http';
import { TRPCError } from '@trpc/server';
import type { RequestMeta } from './request-meta.ts';

/**
 * The request as tRPC's fetch handler reads it, for the common case only: a GET, or a POST of
 * `application/json`, that asks for no streamed answer (the SDK's httpLink sends exactly these).
 * tRPC reads of a request its method, url, signal, `headers.get/has` and, for a JSON body, `text()`;
 * we give it an object of Request's prototype carrying exactly these, instead of the stock Node
 * adapter's copy of every header into a `Headers`, a `Request` and a stream over the body.
 * Anything else (form data, octet streams, jsonl, HEAD, other methods, a Host that makes no URL)
 * gets null: the stock adapter serves it, unchanged (a bad Host is its 400).
 *
 * The body is read only when tRPC asks for it — after authentication, as REST does — with the stock
 * adapter's rules: at most `maxBodySize` bytes (else PAYLOAD_TOO_LARGE), decoded as UTF-8.
 */
export function trpcFetchRequest(req: IncomingMessage, meta: RequestMeta, maxBodySize: number): Request | null {
  const method = req.method;
  const url = `http://${req.headers.host ?? 'localhost'}${req.url}`;
  const contentType = meta.header('content-type');
  const json = contentType === undefined ? method === 'GET' : isJson(contentType);
  if ((method !== 'GET' && method !== 'POST') || !json || wantsStream(meta) || !URL.canParse(url)) return null;
  const headers = {
    get: (name: string) => meta.header(name.toLowerCase()) ?? null,
    has: (name: string) => meta.header(name.toLowerCase()) !== undefined,
  };
  return Object.create(Request.prototype, {
    method: { value: method },
    url: { value: url },
    headers: { value: headers },
    signal: { value: meta.signal },
    text: { value: () => readText(req, maxBodySize) },
  }) as Request;
}

/** tRPC's own test for its JSON handler: the media type, case-insensitive, before any parameter. */
function isJson(contentType: string): boolean {
  return contentType.toLowerCase().split(';', 1)[0]?.trim() === 'application/json';
}

/** tRPC answers a jsonl (streamed) batch when asked so by `trpc-accept` or `accept`. */
function wantsStream(meta: RequestMeta): boolean {
  const accept = meta.header('trpc-accept') ?? meta.header('accept');
  return accept?.includes('application/jsonl') === true;
}

function readText(req: IncomingMessage, maxBodySize: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const detach = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodySize) return void chunks.push(chunk);
      // As the stock adapter: stop keeping bytes and refuse; the rest flows into the void.
      detach();
      reject(new TRPCError({ code: 'PAYLOAD_TOO_LARGE' }));
    };
    const onEnd = () => {
      detach();
      resolve(new TextDecoder().decode(Buffer.concat(chunks, size)));
    };
    const onError = (error: Error) => {
      detach();
      reject(error);
    };
    const onClose = () => onError(new Error('client closed the connection while sending the body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Writes tRPC's answer as the stock adapter does (its status, its headers but Set-Cookie, which
 * goes as a list), in one `end()`: one socket write with a Content-Length, where the stock adapter
 * streams a chunked body (a write for the body, another for its end).
 */
export async function writeFetchResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = await response.text();
  if (res.statusCode === 200) res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name.toLowerCase() !== 'set-cookie') res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  res.end(body);
}
