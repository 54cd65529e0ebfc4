import net from 'node:net';

/**
 * A raw TCP client for tests of the HTTP edge: send a request's headers (and only part of its body,
 * or nothing more), then read what the server answers — or see it close the connection.
 */
export type RawConnection = {
  socket: net.Socket;
  write(text: string | Buffer): Promise<void>;
  /** The first response on the connection, or `closed` when the server closed without one. */
  response(timeoutMs: number): Promise<RawResponse>;
  /** Resolves when the server has closed (or reset) the connection. */
  closed: Promise<void>;
  close(): void;
};

export type RawResponse =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string }
  | { kind: 'closed' };

export async function rawConnect(baseUrl: string): Promise<RawConnection> {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = Buffer.alloc(0);
  const changed: (() => void)[] = [];
  const notify = () => {
    for (const listener of changed.splice(0)) listener();
  };
  let ended = false;
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    notify();
  });
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      ended = true;
      notify();
      resolve();
    };
    socket.once('close', done);
    socket.on('error', () => {});
  });
  return {
    socket,
    write: (text) =>
      new Promise<void>((resolve, reject) => socket.write(text, (error) => (error ? reject(error) : resolve()))),
    closed,
    close: () => socket.destroy(),
    async response(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const parsed = parseResponse(received);
        if (parsed) return parsed;
        if (ended) return { kind: 'closed' };
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no response and no close within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          changed.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

/** A complete response with a Content-Length body, or null while incomplete. */
function parseResponse(data: Buffer): RawResponse | null {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const [statusLine, ...lines] = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = data.subarray(headEnd + 4);
  if (body.length < length) return null;
  return {
    kind: 'response',
    status: Number(statusLine?.split(' ')[1]),
    headers,
    body: body.subarray(0, length).toString('utf8'),
  };
}

/** The head of a request: method, path and headers, ending with the blank line. */
export function requestHead(method: string, path: string, headers: Record<string, string | number>): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}
