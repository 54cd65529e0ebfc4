import type { ServerResponse } from 'node:http';
import { httpStatusOf, type RestErrorBody } from './error-mapping.ts';
import type { RequestMeta } from './request-meta.ts';
import { sendJson } from './send-json.ts';

/**
 * The request as trpc-to-openapi's Node adapter reads it: method, url, the content type, the body
 * (already parsed by us: an own `body` that is not a stream is taken as the input) and the abort
 * signal. The adapter takes these from a WHATWG Request (`instanceof Request`); handed a Node request
 * instead, it would build a whole Request itself. Copying every header into a `Headers` and
 * constructing a `Request` per call was a tenth of the REST path's CPU, so we give it an object of
 * Request's prototype carrying exactly these values as its own properties. Nothing else of it is read.
 */
export function adapterRequest(
  method: string,
  target: string,
  meta: RequestMeta,
  parsed: { contentType: string; body: unknown } | null,
): Request {
  const headers = {
    get: (name: string) => {
      const lower = name.toLowerCase();
      if (parsed && lower === 'content-type') return parsed.contentType;
      return meta.header(lower) ?? null;
    },
  };
  return Object.create(Request.prototype, {
    method: { value: method },
    url: { value: `http://localhost${target}` },
    headers: { value: headers },
    body: { value: parsed ? parsed.body : null },
    signal: { value: meta.signal },
  }) as Request;
}

/**
 * The response as the adapter writes it (statusCode, setHeader, one `end` with the JSON text).
 * Headers go straight onto the Node response; a success is written as it is, in one `end()` (Node
 * adds Content-Length); an error body is rewritten to exactly `{error, code?, details?}` — the
 * adapter's own error shape leaks tRPC internals — with the status of its code.
 */
export function adapterResponse(res: ServerResponse) {
  return {
    statusCode: 200,
    setHeader(name: string, value: string | number) {
      res.setHeader(name, value);
    },
    end(body?: string) {
      if (this.statusCode < 400) {
        res.statusCode = this.statusCode;
        res.end(body ?? '');
        return;
      }
      const error = restBodyOf(body);
      sendJson(res, error.code ? httpStatusOf(error) : this.statusCode, error);
    },
  };
}

function restBodyOf(text: string | undefined): RestErrorBody {
  try {
    const parsed = JSON.parse(text ?? '') as { data?: { aq?: RestErrorBody } };
    if (parsed.data?.aq) return parsed.data.aq;
  } catch {
    // keep the generic 500 body
  }
  return { error: 'Internal server error', code: 'internal_error' };
}
