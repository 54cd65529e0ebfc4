/**
 * Profiling preload for the server, never loaded by a measured run:
 *   node --import ./bench/profile/probe.ts server/src/main.ts
 * Counts every statement sent through `pg` (both copies: the root one and MikroORM's own) by its
 * shape (inlined values become `?`). On SIGUSR2 it writes to $BENCH_PROBE_FILE (JSON) the counts
 * since the last dump, process.memoryUsage() and V8 heap-space sizes, then starts over.
 *   --expose-gc               also the memory after a full GC (live data versus uncollected garbage)
 *   BENCH_HEAP_SNAPSHOT=1     also a heap snapshot next to that file
 *   BENCH_PROBE_TRACE=1       also a timeline: every statement's start and end (with its pool's
 *                             application_name), NOTIFY arrivals, HTTP requests in and answers out,
 *                             outbound calls (undici: created, headers sent, response headers), on
 *                             the wall clock the load generator uses
 */
import diagnostics from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import pg from 'pg';

const counts = new Map<string, number>();
const file = process.env.BENCH_PROBE_FILE;
const labelLength = Number(process.env.BENCH_PROBE_LABEL ?? 110);
const tracing = process.env.BENCH_PROBE_TRACE === '1';

export type TraceEvent = { t: number; ev: string; label: string; app?: string; ms?: number };
let trace: TraceEvent[] = [];
const now = () => performance.timeOrigin + performance.now();

/** Inlined values (MikroORM inlines parameters) become `?`, so one statement shape is one line. */
function label(sql: string): string {
  return sql
    .replace(/E?'(?:[^']|'')*'/g, '?')
    .replace(/\b\d+(\.\d+)?\b/g, '?')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, labelLength);
}

type ClientLike = { connectionParameters?: { application_name?: string } };

function patch(client: typeof pg.Client): void {
  const original = client.prototype.query as (...args: unknown[]) => unknown;
  client.prototype.query = function patched(this: pg.Client, ...args: unknown[]) {
    if (!file) return original.apply(this, args);
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '?');
    const key = label(text);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (!tracing) return original.apply(this, args);
    const app = (this as unknown as ClientLike).connectionParameters?.application_name;
    const t = now();
    const done = (ev: string) => trace.push({ t, ev, label: key.slice(0, 60), app, ms: now() - t });
    // pg-pool (pg-boss, rate-limiter-flexible) passes a callback; kysely awaits the promise.
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (err: unknown, res: unknown) => void;
      args[last] = (err: unknown, res: unknown) => {
        done(err ? 'sql-error' : 'sql');
        callback(err, res);
      };
    }
    const result = original.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(
        () => done('sql'),
        () => done('sql-error'),
      );
    } else if (typeof args[last] !== 'function') {
      trace.push({ t, ev: 'sql', label: key.slice(0, 60), app });
    }
    return result;
  } as typeof client.prototype.query;
  const emit = client.prototype.emit;
  client.prototype.emit = function tracedEmit(this: pg.Client, name: string | symbol, ...rest: unknown[]) {
    if (tracing && name === 'notification') {
      const msg = rest[0] as { channel?: string };
      const app = (this as unknown as ClientLike).connectionParameters?.application_name;
      trace.push({ t: now(), ev: 'notify-in', label: msg.channel ?? '?', app });
    }
    return emit.call(this, name, ...rest);
  } as typeof client.prototype.emit;
}

// MikroORM ships its own copy of pg (node_modules/@mikro-orm/postgresql/node_modules/pg): patch both.
patch(pg.Client);
const fromOrm = createRequire(import.meta.resolve('@mikro-orm/postgresql'))('pg') as typeof pg;
if (fromOrm.Client !== pg.Client) patch(fromOrm.Client);

if (tracing) {
  const emit = http.Server.prototype.emit as (this: http.Server, name: string | symbol, ...rest: unknown[]) => boolean;
  http.Server.prototype.emit = function tracedRequest(this: http.Server, name: string | symbol, ...rest: unknown[]) {
    if (name === 'request') {
      const req = rest[0] as http.IncomingMessage;
      const res = rest[1] as http.ServerResponse;
      const path = (req.url ?? '').replace(/[0-9a-f-]{16,}/g, ':id');
      const t = now();
      trace.push({ t, ev: 'http-in', label: `${req.method} ${path}` });
      res.once('finish', () => trace.push({ t: now(), ev: 'http-out', label: `${req.method} ${path}`, ms: now() - t }));
      // When the handler answered, as opposed to when the answer left ('finish').
      const end = res.end.bind(res) as (...a: unknown[]) => http.ServerResponse;
      res.end = ((...a: unknown[]) => {
        trace.push({ t: now(), ev: 'http-end', label: `${req.method} ${path}`, ms: now() - t });
        return end(...a);
      }) as typeof res.end;
    }
    return emit.call(this, name, ...rest);
  } as typeof http.Server.prototype.emit;
}

if (tracing) {
  // Outbound calls (dispatches, webhooks, polls) as undici publishes them.
  const host = (request: { origin?: unknown; path?: string }) =>
    `${String(request.origin ?? '')}${(request.path ?? '').split('?')[0]}`;
  for (const [channel, ev] of [
    ['undici:request:create', 'call-create'],
    ['undici:client:sendHeaders', 'call-sent'],
    ['undici:request:headers', 'call-answer'],
  ] as const) {
    diagnostics.subscribe(channel, (message) => {
      const { request } = message as { request: { origin?: unknown; path?: string } };
      trace.push({ t: now(), ev, label: host(request).slice(0, 60) });
    });
  }
}

const mb = (n: number) => Math.round((n / 2 ** 20) * 10) / 10;

let seq = 0;
process.on('SIGUSR2', () => {
  seq += 1;
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const usage = () => Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, mb(v)]));
  const memory = usage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, mb(s.space_size)]));
  // With --expose-gc: what is live, as opposed to garbage V8 has not collected yet.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const memoryAfterGc = gc ? usage() : undefined;
  let snapshot: string | undefined;
  if (process.env.BENCH_HEAP_SNAPSHOT === '1' && file) snapshot = v8.writeHeapSnapshot(`${file}.heapsnapshot`);
  const out = { seq, memory, memoryAfterGc, spaces, snapshot, queries: Object.fromEntries(sorted), trace };
  if (file) writeFileSync(file, JSON.stringify(out));
  counts.clear();
  trace = [];
});
