/**
 * Profiling preload for the server, never loaded by a measured run:
 *   node --import ./bench/profile/probe.ts server/src/main.ts
 * Counts every statement sent through `pg` (both copies: the root one and MikroORM's own) by its
 * first words. On SIGUSR2 it writes to $BENCH_PROBE_FILE (JSON) the counts since the last dump,
 * process.memoryUsage() and V8 heap-space sizes, then starts counting over. With
 * BENCH_HEAP_SNAPSHOT=1 it also writes a heap snapshot next to that file; with --expose-gc it also
 * reports the memory after a full GC (live data versus garbage not yet collected).
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import v8 from 'node:v8';
import pg from 'pg';

const counts = new Map<string, number>();
const file = process.env.BENCH_PROBE_FILE;
const labelLength = Number(process.env.BENCH_PROBE_LABEL ?? 110);

/** Inlined values (MikroORM inlines parameters) become `?`, so one statement shape is one line. */
function label(sql: string): string {
  return sql
    .replace(/E?'(?:[^']|'')*'/g, '?')
    .replace(/\b\d+(\.\d+)?\b/g, '?')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, labelLength);
}

function patch(client: typeof pg.Client): void {
  const original = client.prototype.query as (...args: unknown[]) => unknown;
  client.prototype.query = function patched(this: pg.Client, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : (first?.text ?? '?');
    const key = label(text);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return original.apply(this, args);
  } as typeof client.prototype.query;
}

// MikroORM ships its own copy of pg (node_modules/@mikro-orm/postgresql/node_modules/pg): patch both.
patch(pg.Client);
const fromOrm = createRequire(import.meta.resolve('@mikro-orm/postgresql'))('pg') as typeof pg;
if (fromOrm.Client !== pg.Client) patch(fromOrm.Client);

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
  if (file)
    writeFileSync(
      file,
      JSON.stringify({ seq, memory, memoryAfterGc, spaces, snapshot, queries: Object.fromEntries(sorted) }, null, 1),
    );
  counts.clear();
});
