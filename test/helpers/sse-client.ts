import http from 'node:http';
import { waitFor } from './wait-for.ts';

export type ReceivedEvent = { event: string; id: string | undefined; data: any; at: number };

/**
 * A raw SSE client for tests (node:http, no SDK): records every event and comment line as
 * received, so tests assert exactly what went over the wire.
 */
export type SseConnection = {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The whole body when the answer was not a stream (an error). */
  errorBody: any;
  events: ReceivedEvent[];
  comments: { text: string; at: number }[];
  ended: () => boolean;
  waitForEvent(what: string, match: (e: ReceivedEvent) => boolean, timeoutMs?: number): Promise<ReceivedEvent>;
  close(): void;
  /** Stops reading from the socket (a stalled consumer). */
  pause(): void;
};

export function openSse(
  baseUrl: string,
  path: string,
  opts: { key?: string; headers?: Record<string, string> } = {},
): Promise<SseConnection> {
  const headers: Record<string, string> = { accept: 'text/event-stream', ...(opts.headers ?? {}) };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  return new Promise((resolve, reject) => {
    const req = http.get(`${baseUrl}${path}`, { headers, agent: false }, (res) => {
      const events: ReceivedEvent[] = [];
      const comments: { text: string; at: number }[] = [];
      let ended = false;
      const conn: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        errorBody: undefined,
        events,
        comments,
        ended: () => ended,
        waitForEvent: (what, match, timeoutMs = 15_000) => waitFor(what, () => events.find(match), timeoutMs),
        close: () => req.destroy(),
        pause: () => res.pause(),
      };
      res.on('close', () => {
        ended = true;
      });
      res.on('error', () => {});
      if (!String(res.headers['content-type']).startsWith('text/event-stream')) {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          conn.errorBody = text ? JSON.parse(text) : undefined;
          resolve(conn);
        });
        return;
      }
      parseInto(res, events, comments);
      resolve(conn);
    });
    req.on('error', reject);
  });
}

function parseInto(res: http.IncomingMessage, events: ReceivedEvent[], comments: { text: string; at: number }[]) {
  let buffer = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    for (let blank = buffer.indexOf('\n\n'); blank !== -1; blank = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, blank);
      buffer = buffer.slice(blank + 2);
      const fields: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comments.push({ text: line.slice(1).trim(), at: Date.now() });
        else {
          const colon = line.indexOf(':');
          fields[line.slice(0, colon)] = line.slice(colon + 2);
        }
      }
      if (fields.data !== undefined) {
        events.push({ event: fields.event ?? 'message', id: fields.id, data: JSON.parse(fields.data), at: Date.now() });
      }
    }
  });
}
