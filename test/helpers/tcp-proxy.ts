import net from 'node:net';

/**
 * A TCP proxy on loopback in front of a real server (here PostgreSQL), to take the server away
 * from a client and give it back without touching the server itself:
 * - `pause()`: connections stay open but nothing passes either way (a partition, a hung server);
 *   `resume()` forwards what was held back, so every connection carries on where it stopped.
 * - `close()`: every connection is cut and new ones are refused (a server that is down);
 *   `reopen()` listens again on the same port.
 */
export async function startTcpProxy(upstream: { host: string; port: number }) {
  const pairs = new Set<{ client: net.Socket; server: net.Socket }>();
  let paused = false;
  let port = 0;
  let listener: net.Server;

  const pipe = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!paused) from.resume();
    });
  };

  const accept = (client: net.Socket) => {
    const server = net.connect(upstream.port, upstream.host);
    const pair = { client, server };
    pairs.add(pair);
    if (paused) {
      client.pause();
      server.pause();
    }
    pipe(client, server);
    pipe(server, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('close', end);
    server.on('close', end);
    client.on('error', end);
    server.on('error', end);
  };

  const listen = () =>
    new Promise<void>((resolve) => {
      listener = net.createServer(accept);
      listener.listen(port, '127.0.0.1', () => {
        port = (listener.address() as net.AddressInfo).port;
        resolve();
      });
    });
  await listen();

  return {
    get port() {
      return port;
    },
    /** `url` with its host and port replaced by the proxy's. */
    wrap(url: string): string {
      const moved = new URL(url);
      moved.hostname = '127.0.0.1';
      moved.port = String(port);
      return moved.toString();
    },
    pause() {
      paused = true;
      for (const { client, server } of pairs) {
        client.pause();
        server.pause();
      }
    },
    resume() {
      paused = false;
      for (const { client, server } of pairs) {
        client.resume();
        server.resume();
      }
    },
    async close() {
      paused = false;
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const { client, server } of pairs) {
        client.destroy();
        server.destroy();
      }
      pairs.clear();
      await closed;
    },
    reopen: listen,
  };
}

export type TcpProxy = Awaited<ReturnType<typeof startTcpProxy>>;
