/**
 * Preload for the server (`node --import ./bench/profile/query-counter.ts server/src/main.ts`):
 * counts every statement sent through `pg` by its first words, so a benchmark can tell how many
 * round trips one request costs. SIGUSR2 writes the counts since the last dump to
 * $BENCH_QUERY_COUNTS (JSON) and starts over. Profiling only; never loaded by a measured run.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import pg from 'pg';

const counts = new Map<string, number>();
const file = process.env.BENCH_QUERY_COUNTS;

function label(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim().slice(0, Number(process.env.BENCH_QUERY_LABEL ?? 110));
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

process.on('SIGUSR2', () => {
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  if (file) writeFileSync(file, JSON.stringify(Object.fromEntries(sorted), null, 1));
  counts.clear();
});
