import pg from 'pg';

/**
 * Why 400 ms: /readyz must answer 503 within a second of losing the database. A healthy `select 1`
 * takes about a millisecond, so this bound is only ever reached by a database that is gone or not
 * answering (a partition, a hung server), and connect + query together stay well under a second.
 */
const PROBE_TIMEOUT_MS = 400;

/**
 * Whether the database answers, for /readyz: on its own connection, so a busy worker pool never
 * makes a healthy database look lost, and bounded so a dead one is reported at once instead of
 * hanging the check. A connection that timed out is dropped (pg's query_timeout releases it with
 * the error), so a partition never leaves the probe stuck on a dead socket.
 */
export function createDatabaseProbe(url: string, onError: (message: string) => void) {
  const pool = new pg.Pool({
    connectionString: url,
    max: 1,
    application_name: 'asyncqueue-readiness',
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
    query_timeout: PROBE_TIMEOUT_MS,
    // Why 60 s: load balancers and orchestrators probe every few seconds; the one connection is
    // kept between probes instead of reconnecting each time, and let go when nobody probes.
    idleTimeoutMillis: 60_000,
  });
  // An idle connection the server terminated (restart, shutdown): the next probe reconnects.
  pool.on('error', (error) => onError(`readiness probe connection: ${error.message}`));
  return {
    async reachable(): Promise<boolean> {
      let timer: NodeJS.Timeout | undefined;
      // Also bounds the wait for the pool's one connection when probes overlap.
      const late = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS * 2);
      });
      const answered = pool.query('select 1').then(
        () => true,
        () => false,
      );
      const up = await Promise.race([answered, late]);
      clearTimeout(timer);
      return up;
    },
    close: () => pool.end(),
  };
}
