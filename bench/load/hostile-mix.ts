import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import net from 'node:net';
import { type ClientRequest, sendRequest } from '../../test/helpers/keep-alive-client.ts';

/**
 * The hostile requests of bench/hostile.ts, each a named kind with its share of the traffic.
 * All of them come from one loopback address (127.0.0.3) so per-IP limits see one attacker, while
 * the normal traffic comes from another (127.0.0.2).
 */

export type HostileKind = { name: string; perSecond: number; request(): ClientRequest };

export type HostileSetup = { apiKey: string; binaryTarget: string; controlTarget: string };

// Why 4.8 MB: just under the 5 MiB callback cap, so the server must read (or refuse) all of it.
const CALLBACK_BODY = Buffer.alloc(4_800_000, '{"a":"x"}'.repeat(1000));
// Why 1 MiB: the whole default REST body cap, sent without a key (the server must refuse it unread).
const UNAUTH_BODY = Buffer.alloc(1024 * 1024, 'x');
// Why 1,000: far over any sane batch; the names alone make a ~10 KB request line.
const HUGE_BATCH = 1_000;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const randomKey = () =>
  `async_${randomBytes(36)
    .toString('base64')
    .replace(/[^0-9A-Za-z]/g, 'A')
    .slice(0, 48)}`;
const json = { 'content-type': 'application/json' };

/** Shares of 1,000 requests per second (scaled by the --rate option). */
export function hostileKinds(setup: HostileSetup): HostileKind[] {
  const auth = { authorization: `Bearer ${setup.apiKey}` };
  const batchNames = Array.from({ length: HUGE_BATCH }, () => 'tasks.list').join(',');
  const batchBody = JSON.stringify(Object.fromEntries(Array.from({ length: HUGE_BATCH }, (_, i) => [String(i), {}])));
  return [
    {
      name: 'trpc random name',
      perSecond: 180,
      request: () => ({ method: 'POST', path: `/trpc/${hex(8)}.${hex(4)}?batch=1`, headers: json, body: '{"0":{}}' }),
    },
    {
      name: 'callback 4.8 MB',
      perSecond: 10,
      request: () => ({ method: 'POST', path: `/v1/callbacks/${hex(32)}`, headers: json, body: CALLBACK_BODY }),
    },
    {
      name: 'trpc huge batch',
      perSecond: 20,
      request: () => ({
        method: 'POST',
        path: `/trpc/${batchNames}?batch=1`,
        headers: { ...json, ...auth },
        body: batchBody,
      }),
    },
    {
      name: 'rest 1 MiB no key',
      perSecond: 30,
      request: () => ({ method: 'POST', path: '/v1/tasks', headers: json, body: UNAUTH_BODY }),
    },
    {
      name: 'bad key',
      perSecond: 250,
      request: () => ({ method: 'GET', path: '/v1/tasks', headers: { authorization: `Bearer ${randomKey()}` } }),
    },
    {
      name: 'list 100',
      perSecond: 150,
      request: () => ({ method: 'GET', path: '/v1/tasks?limit=100', headers: auth }),
    },
    {
      name: 'NUL body',
      perSecond: 150,
      request: () => ({
        method: 'POST',
        path: Math.random() < 0.5 ? '/v1/tasks' : `/v1/signals/${hex(32)}`,
        headers: { ...json, ...auth },
        body:
          Math.random() < 0.5
            ? JSON.stringify({ targetUrl: setup.binaryTarget, body: 'a\u0000b', headers: { 'X-A': '\u0000' } })
            : Buffer.alloc(4096, 0),
      }),
    },
    {
      name: 'binary/control target',
      perSecond: 20,
      request: () => ({
        method: 'POST',
        path: '/v1/tasks',
        headers: { ...json, ...auth },
        body: JSON.stringify({
          targetUrl: Math.random() < 0.5 ? setup.binaryTarget : setup.controlTarget,
          maxRetries: 0,
        }),
      }),
    },
  ];
}

export type Outcome = number | 'reset' | 'refused-by-client';

export async function sendHostile(baseUrl: string, req: ClientRequest, agent: http.Agent): Promise<Outcome> {
  const res = await sendRequest(baseUrl, req, agent);
  if (res.status === 0) return 'reset';
  if (res.status === -1) return 'refused-by-client';
  return res.status;
}

/**
 * One slow-loris connection: a request line and then one header byte every `everyMs`, never the
 * blank line that ends the headers. Resolves with how long the server kept it open (ms), or with
 * `heldMs` if it was still open when the run ended.
 */
export function slowLoris(
  baseUrl: string,
  everyMs: number,
  heldMs: number,
): Promise<{ openMs: number; closedByServer: boolean }> {
  const { hostname, port } = new URL(baseUrl);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port), localAddress: '127.0.0.3' });
    let timer: NodeJS.Timeout | undefined;
    const finish = (closedByServer: boolean) => {
      clearInterval(timer);
      socket.destroy();
      resolve({ openMs: Date.now() - started, closedByServer });
    };
    socket.once('connect', () => {
      socket.write('GET /v1/tasks HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      timer = setInterval(() => socket.write('a'), everyMs);
    });
    socket.once('close', () => finish(true));
    socket.once('error', () => finish(true));
    setTimeout(() => finish(false), heldMs).unref();
  });
}
