import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type pg from 'pg';
import { boundedMap } from '../shared/bounded-map.ts';

/** Every distinct statement text of the process: a handful, so the map stays tiny. */
const names = new Map<string, string>();

/** A statement's name: a digest of its text (PostgreSQL names are at most 63 bytes). */
function nameOf(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `aq_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Why 256: the texts numbered are the store's statements (a few dozen), each from one or two first
 * numbers; the cache starts over rather than grow if more ever came.
 */
const MAX_NUMBERED = 256;
/** By text (the store's own strings, hashed once), then by first number. */
const numbered = boundedMap<string, Map<number, string>>(MAX_NUMBERED);

/** `?` placeholders outside quoted literals → `$first…`; kept per text (riding statements number theirs on every call). */
export function numberPlaceholders(sql: string, first = 1): string {
  const byFirst = numbered.getOrMake(sql, () => new Map());
  let text = byFirst.get(first);
  if (text === undefined) {
    text = numberFrom(sql, first);
    byFirst.set(first, text);
  }
  return text;
}

function numberFrom(sql: string, first: number): string {
  let n = first - 1;
  let quoted = false;
  let text = '';
  for (const c of sql) {
    if (c === "'") quoted = !quoted;
    if (c === '?' && !quoted) {
      n += 1;
      text += `$${n}`;
    } else text += c;
  }
  return text;
}

/** `?` placeholders outside quoted literals → `$1…`; the name is a digest of the resulting text. */
function statementFor(sql: string): { name: string; text: string } {
  const text = numberPlaceholders(sql);
  return { name: nameOf(text), text };
}

/**
 * Runs a statement in place of `execute`'s own: given its text (`?` placeholders) and parameters,
 * it answers the rows `execute` would have (e.g. the statement carried by a job's INSERT).
 */
export type StatementRider = (sql: string, params: readonly unknown[]) => Promise<Record<string, unknown>[]>;
const riders = new WeakMap<EntityManager, StatementRider>();

/**
 * The next `execute` on `em` (a fresh fork, the one statement of a change) runs through `rider`:
 * how a store statement, written once, also rides on another statement when the caller wants both
 * to be one (tasks/task-lifecycle.ts: a completion and its webhook job).
 */
export function rideNextStatement(em: EntityManager, rider: StatementRider): void {
  riders.set(em, rider);
}

/** The `pg` pool behind the ORM's connection (one per ORM; every fork shares it), looked up once. */
const pools = new WeakMap<object, Promise<pg.Pool>>();
function nativePool(em: EntityManager): Promise<pg.Pool> {
  const connection = em.getConnection();
  let pool = pools.get(connection);
  if (!pool) {
    pool = connection.getNativeClient() as unknown as Promise<pg.Pool>;
    pools.set(connection, pool);
  }
  return pool;
}

/**
 * Runs one statement as a named prepared statement on the ORM's own connection pool, so that
 * PostgreSQL parses and plans it once per connection (planning was ~45 % of the hot statements'
 * server time) and the call skips the ORM's query building. Inside a transaction the statement
 * must run on the transaction's connection: it goes through `em.execute` as before.
 */
export async function execute<R extends object = Record<string, unknown>>(
  em: EntityManager,
  sql: string,
  params: readonly unknown[] = [],
): Promise<R[]> {
  const rider = riders.get(em);
  if (rider) {
    riders.delete(em);
    return (await rider(sql, params)) as R[];
  }
  if (em.isInTransaction()) return em.execute<R[]>(sql, [...params]);
  const { name, text } = statementFor(sql);
  const result = await (await nativePool(em)).query<R>({ name, text, values: [...params] });
  return result.rows;
}

/**
 * A pg-boss `db` on the ORM's pool for statements that pg-boss builds. `prepared: true`: as named
 * prepared statements (the job INSERT, complete, fail, touch: their texts are fixed per queue and
 * each finds its rows by id); `'bounded'`: named up to MAX_VARYING_SHAPES distinct texts;
 * `'replanned'`: named, its plan made again every REPLAN_MS (executeReplanned, for pg-boss's fetch).
 */
export function poolExecutor(em: EntityManager, opts: { prepared: boolean | 'bounded' | 'replanned' }) {
  return {
    async executeSql(text: string, values: unknown[] = []) {
      const pool = await nativePool(em);
      if (opts.prepared === 'replanned') return { rows: await executeReplanned(pool, text, values) };
      const named = opts.prepared === 'bounded' ? admitShape(text) : opts.prepared;
      const result = await pool.query(named ? { name: nameOf(text), text, values } : { text, values });
      return { rows: result.rows as unknown[] };
    },
  };
}

/**
 * Why 1 s: the dispatch fetch (pg-boss's fetch with the claim around it) has no parameters, so a
 * named statement keeps the plan of its first run for as long as the connection lives. Kept for a
 * whole run, that plan (made while the tables were small) fell to 86 ms a fetch and the end-to-end
 * bench from 211 to 113 tasks/s. Planned on every fetch instead, it spends ~1.1–1.5 ms planning
 * and ~0.5 ms parsing per pickup, against ~0.7 ms running it. Made again every 10 s, a plan from
 * 100 tasks took 20 ms a fetch once there were 5,000 (3.5 ms planned afresh), and the end-to-end
 * bench lost 10–15 % in two interleaved pairs; every 1 s it held even and pickup p50 fell from
 * 7.9 / 7.2 ms to 5.6 / 5.5 ms (bench/README). Planning then costs each connection ~2 ms a second
 * at most, and only while it runs fetches.
 */
export const REPLAN_MS = 1_000;

/** Per pool connection: the period its replanned statements were prepared in, and their names. */
const replannedOn = new WeakMap<pg.PoolClient, { period: number; names: Set<string> }>();

/** node-postgres's record of the statements a connection has prepared (it skips parsing those). */
type PreparedRecord = { connection?: { parsedStatements?: Record<string, string> } };

/**
 * Runs `text` as a named statement whose plan is at most `replanMs` old: on a connection that
 * prepared its replanned statements in an earlier period, they are deallocated first (and
 * forgotten by node-postgres), so the next run parses and plans them again. A connection thus
 * holds at most the texts of one period. Errors release the connection as `pool.query` does.
 */
export async function executeReplanned(
  pool: pg.Pool,
  text: string,
  values: unknown[],
  replanMs = REPLAN_MS,
  now = Date.now(),
): Promise<unknown[]> {
  const period = Math.floor(now / replanMs);
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    const parsed = (client as unknown as PreparedRecord).connection?.parsedStatements;
    // Without node-postgres's record a deallocated name could not be forgotten (its next run would
    // bind a statement the server no longer has): run unnamed, planned each time, as before.
    if (!parsed) return (await client.query({ text, values })).rows as unknown[];
    let kept = replannedOn.get(client);
    if (kept && kept.period !== period) {
      // Only what was prepared: a run that failed before its parse left nothing to deallocate.
      const stale = [...kept.names].filter((name) => parsed[name] !== undefined);
      if (stale.length > 0) await client.query(stale.map((name) => `deallocate "${name}"`).join('; '));
      for (const name of stale) delete parsed[name];
      kept = undefined;
    }
    if (!kept) {
      kept = { period, names: new Set() };
      replannedOn.set(client, kept);
    }
    const name = nameOf(text);
    kept.names.add(name);
    const result = await client.query({ name, text, values });
    return result.rows as unknown[];
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    client.release(failure);
  }
}

/**
 * Why 32: texts that vary with their input (a batch INSERT sends a column shared by every row as
 * one value, so its text depends on which columns are shared) are named while fewer than 32 have
 * been; the rest run unnamed. Each named text is kept by PostgreSQL on every pool connection, so
 * input crafted to vary the shape must not make that grow without end; real batches use a few.
 */
const MAX_VARYING_SHAPES = 32;
const varyingShapes = new Set<string>();

function admitShape(text: string): boolean {
  if (varyingShapes.has(text)) return true;
  if (varyingShapes.size >= MAX_VARYING_SHAPES) return false;
  varyingShapes.add(text);
  return true;
}
