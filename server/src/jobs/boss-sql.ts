import { boundedMap } from '../shared/bounded-map.ts';
import { type Claim, claimStatement, type FetchedJobs, type HeldKey, splitClaimedRow } from '../tasks/store/claim.ts';

/**
 * The pg-boss adapter: the one place that knows pg-boss's SQL text and the shape of its job rows
 * (checked against the pinned pg-boss by test/pg-boss-contract.test.ts). It holds our splices
 * into pg-boss's statements: a statement riding on the job INSERT (withAlongside: a task and its
 * dispatch job in one statement; withDerivedJobs: a batch's jobs made from the rows that statement
 * returns), and pg-boss's fetch run under the claim (claimingFetch: taking a job and claiming its
 * task in one statement). The task store (tasks/store/claim.ts) writes the
 * claim against the columns named here, never against pg-boss's own names.
 */

/**
 * A data-modifying statement (e.g. a task's INSERT) to run as a CTE of the job's own INSERT
 * statement, its placeholders numbered from `$first`: one statement, so both commit together
 * without a transaction.
 */
export type Alongside = (first: number) => { sql: string; params: unknown[] };

/** What pg-boss runs its statements through (its `db` option). */
export type SqlExecutor = { executeSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> };

/** pg-boss's fetched job rows as the claim reads them: its statement as a relation, and the columns. */
function fetchedJobs(fetchSql: string): FetchedJobs {
  return {
    statement: fetchSql,
    jobId: 'id',
    attempt: '"retryCount"',
    taskIdText: "data->>'taskId'",
  };
}

/** The part of a pg-boss job the handlers read. */
export type JobRef<T> = { id: string; retryCount: number; data: T };

/** A dispatch job as the pump hands it over: fetched and, when its task was claimable, claimed. */
export type ClaimedJob<T> = JobRef<T> & { aqClaim: Claim | null; aqHeld: HeldKey | null };

/**
 * A pg-boss `db` for the dispatch pump's fetch: pg-boss's own fetch statement, run as a CTE of the
 * claim (tasks/store/claim.ts claimStatement), so taking a job and claiming its task commit
 * together. Before, the claim was a second statement and a second commit (a disk flush, ~2–3 ms)
 * between a job's fetch and its HTTP call. pg-boss still owns the job rows: its statement is run
 * unchanged and returns the same columns.
 */
export function claimingFetch(db: SqlExecutor): SqlExecutor {
  return {
    async executeSql(text, values = []) {
      const { rows } = await db.executeSql(claimStatement(fetchedJobs(text)), values);
      return {
        rows: rows.map((row) => {
          const { job, claim, held } = splitClaimedRow(row as Record<string, unknown>);
          return { ...job, aqClaim: claim, aqHeld: held };
        }),
      };
    },
  };
}

/** The claim a fetched dispatch job carries; throws if the job came from a fetch without it. */
export function claimOf<T>(job: JobRef<T>): Claim | null {
  if (!('aqClaim' in job)) throw new Error(`dispatch job ${job.id} was fetched without claimingFetch`);
  return (job as ClaimedJob<T>).aqClaim;
}

/** The flow key that parked this job's task instead of claiming it (null when none did). */
export function heldKeyOf<T>(job: JobRef<T>): HeldKey | null {
  return (job as Partial<ClaimedJob<T>>).aqHeld ?? null;
}

/**
 * Prepends the caller's statement, as a CTE, to pg-boss's job INSERT (one statement taking its jobs
 * as `$1`) or to its complete (a webhook's record and the settling of its job). Data-modifying CTEs
 * always run to completion, referenced or not, so the two commit together or not at all.
 */
export function withAlongside(db: SqlExecutor, alongside: Alongside): SqlExecutor {
  return {
    executeSql(sql, values = []) {
      const extra = alongside(values.length + 1);
      return db.executeSql(prependCte(`aq_alongside as (${extra.sql})`, sql), [...values, ...extra.params]);
    },
  };
}

/** Where pg-boss's job INSERT selects its rows: the condition goes right after it. */
const JOB_INSERT_SOURCE_END = /(LEFT JOIN\s+\S+\.queue\s+q\s+ON\s+q\.name\s*=\s*'[^']*')(\s+ON CONFLICT DO NOTHING)/i;

/**
 * The top-level CTEs of a `WITH a AS (…), b AS (…) SELECT …` statement and its final statement,
 * split at the first `)` at depth 0 that no comma follows (quotes respected).
 */
function splitWith(sql: string): { ctes: string; main: string } {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < sql.length; i += 1) {
    const c = sql[i];
    if (c === "'") quoted = !quoted;
    if (quoted) continue;
    if (c === '(') depth += 1;
    if (c === ')') {
      depth -= 1;
      if (depth === 0 && !/^\s*,/.test(sql.slice(i + 1))) {
        return { ctes: sql.slice(sql.search(/\S/) + 4, i + 1).trim(), main: sql.slice(i + 1).trim() };
      }
    }
  }
  throw new Error('pg-boss statement has an unknown shape: unbalanced WITH');
}

/**
 * Like withAlongside, for a statement the job depends on (a fenced UPDATE that may match nothing):
 * the job is inserted only if the caller's statement returned a row, both in one statement. The
 * statement answers the caller's rows to `onRows` (pg-boss gets its job id, or nothing: no job).
 */
/** More columns for the rows a statement answers: `columns` read from the relation `join` adds (the row is `aq_row`). */
export type RowExtras = { join: string; columns: string };

export function withConditionalAlongside(
  db: SqlExecutor,
  alongside: Alongside,
  onRows: (rows: Record<string, unknown>[]) => void,
  extras?: RowExtras,
): SqlExecutor {
  return {
    async executeSql(sql, values = []) {
      const extra = alongside(values.length + 1);
      const combined = conditionalStatement(sql, extra.sql, extras);
      const { rows } = (await db.executeSql(combined, [...values, ...extra.params])) as {
        rows: Record<string, unknown>[];
      };
      onRows(rows);
      const jobId = rows[0]?.aq_job_id;
      return { rows: jobId ? [{ id: jobId }] : [] };
    },
  };
}

/**
 * Why 64: the texts are one per store statement that rides a job (a handful), each with pg-boss's
 * INSERT of its queue; more would be a defect, and then the cache starts over rather than grow.
 */
const MAX_CONDITIONAL_TEXTS = 64;
/**
 * By the riding statement's text (the store's own string, hashed once), then by pg-boss's text
 * (one per queue): the combined text and the extras it was built with.
 */
const conditionalTexts = boundedMap<string, Map<string, { extras: string; text: string }>>(MAX_CONDITIONAL_TEXTS);

/**
 * pg-boss's job INSERT `sql`, made to insert only if the statement `alongsideSql` returned a row,
 * with that statement's rows as the answer. Built once per pair of texts and kept: splitting
 * pg-boss's text was ~50 µs of every webhook job's send, and the same string each time is also
 * named and looked up at once (db/prepared.ts).
 */
function conditionalStatement(sql: string, alongsideSql: string, extras: RowExtras | undefined): string {
  const byInsert = conditionalTexts.getOrMake(alongsideSql, () => new Map());
  const extrasKey = extras ? `${extras.columns}\u0000${extras.join}` : '';
  const known = byInsert.get(sql);
  if (known?.extras === extrasKey) return known.text;
  const text = buildConditional(sql, alongsideSql, extras);
  byInsert.set(sql, { extras: extrasKey, text });
  return text;
}

function buildConditional(sql: string, alongsideSql: string, extras: RowExtras | undefined): string {
  if (!JOB_INSERT_SOURCE_END.test(sql))
    throw new Error('pg-boss job INSERT has an unknown shape; cannot make it conditional');
  const conditional = sql.replace(JOB_INSERT_SOURCE_END, '$1 WHERE EXISTS (SELECT 1 FROM aq_alongside)$2');
  const text = conditional.trimStart();
  // `WITH ins AS (INSERT …), notified AS (…) SELECT id …` (a queue with notify) or a bare `INSERT … RETURNING id`.
  const { ctes, main } = /^with\s/i.test(text) ? splitWith(text) : { ctes: '', main: text };
  const more = extras ? `, ${extras.columns}` : '';
  return `with aq_alongside as (${alongsideSql}), ${ctes ? `${ctes}, ` : ''}aq_job as (${main})
        select aq_row.*, (select id from aq_job limit 1) as aq_job_id${more} from aq_alongside aq_row ${extras?.join ?? ''}`;
}

/**
 * `with <cte>` put before pg-boss's statement: its job INSERT (`WITH ins AS (INSERT …) …` with
 * notify, or a bare `INSERT …`) or its complete (`WITH results AS (UPDATE …) …`).
 */
function prependCte(cte: string, sql: string): string {
  const text = sql.trimStart();
  if (/^with\s/i.test(text)) return `with ${cte}, ${text.slice(4).trimStart()}`;
  if (/^insert\s/i.test(text)) return `with ${cte} ${text}`;
  // A pg-boss upgrade changed its statement's shape: fail loudly rather than lose the atomicity.
  throw new Error('pg-boss statement has an unknown shape; cannot combine it with ours');
}

/** pg-boss's job relation: `json_to_recordset($1::text::json) as x (<column> <type>, …)`. */
const JOB_RECORDSET = /json_to_recordset\(\$1::text::json\) as x \(([^()]*)\)/;

/**
 * pg-boss's job INSERT with its jobs made in SQL, one per row the alongside statement inserts and
 * returns (columns job_id, task_id, priority, start_after — null: at once — and group_id), instead
 * of read from a JSON array built in JavaScript: a task's job is `{taskId}`, so a batch's jobs are a
 * SELECT over the rows inserted beside them. Only
 * pg-boss's job relation is replaced, by one with the same columns and types, those we do not give
 * null (as when absent from the JSON): the rest of pg-boss's statement (queue policy, retry
 * settings, expiry, retention, singleton and group columns, ON CONFLICT) runs unchanged. pg-boss's
 * own parameter (its empty job array) is dropped; the alongside statement's are numbered from $1.
 */
export function withDerivedJobs(db: SqlExecutor, alongside: Alongside): SqlExecutor {
  return {
    executeSql(sql, values = []) {
      const match = JOB_RECORDSET.exec(sql);
      const statement = match ? sql.replace(match[0], () => derivedJobRelation(match[1] as string)) : sql;
      // A pg-boss upgrade changed its job relation or its parameters: fail loudly rather than
      // insert other jobs than the rows'.
      if (!match || values.length !== 1 || /\$\d/.test(statement)) {
        throw new Error('pg-boss job INSERT has an unknown shape; cannot derive its jobs from the inserted rows');
      }
      const extra = alongside(1);
      return db.executeSql(prependCte(`aq_alongside as (${extra.sql})`, statement), extra.params);
    },
  };
}

/** The derived columns (DerivedJobs in queues.ts) under pg-boss's recordset names; every other null. */
const DERIVED_AS: Record<string, string> = {
  id: 'job_id',
  data: "jsonb_build_object('taskId', task_id)",
  priority: 'priority',
  // to_json: ISO 8601 whatever the session's DateStyle, which pg-boss casts back to the same instant.
  '"startAfter"': "to_json(start_after) #>> '{}'",
  '"groupId"': 'group_id',
};

function derivedJobRelation(columnList: string): string {
  const columns = columnList
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '')
    .map((c) => ({ name: c.slice(0, c.lastIndexOf(' ')), type: c.slice(c.lastIndexOf(' ') + 1) }));
  const missing = Object.keys(DERIVED_AS).filter((name) => !columns.some((c) => c.name === name));
  // A renamed pg-boss column would otherwise be null in every job (no group, no start time).
  if (missing.length > 0) throw new Error(`pg-boss job recordset lacks ${missing.join(', ')}; cannot derive jobs`);
  const list = columns.map(({ name, type }) => `(${DERIVED_AS[name] ?? 'null'})::${type} as ${name}`);
  return `(select ${list.join(', ')} from aq_alongside) as x`;
}
