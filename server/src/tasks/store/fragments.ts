/** SQL fragments shared by more than one query family of the store. */

/** A list of statuses as SQL string literals, for `status in (…)` (statuses are our own constants). */
export const inList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

/** A result's three columns (jsonb metadata, body text, encoding), set from storedResult's params. */
export const RESULT = `result = ?::jsonb, result_body = ?, result_body_encoding = ?`;

/**
 * The attempt a redelivery records for the run that held the task before it (a crash, a kill, or
 * a failure after the call that could not be recorded), or that the watchdog and a cancel record
 * for a stuck one: the attempt's number, its start (the claim set updated_at), no status code.
 */
export const interruptedAttempt = (error: string, willRetry: boolean) => `jsonb_build_array(jsonb_build_object(
  'number', tasks.retry_count + 1,
  'startedAt', to_char(tasks.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'durationMs', (extract(epoch from now() - tasks.updated_at) * 1000)::int,
  'statusCode', null,
  'error', '${error}',
  'willRetry', ${willRetry}))`;
