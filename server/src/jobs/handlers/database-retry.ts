/**
 * Whether an error means the database could not be reached (a restart, a failover, a dropped
 * connection), as opposed to a statement the database refused. Only the first kind is worth trying
 * again with the same statement.
 */
export function isDatabaseUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    // 08xxx: connection exceptions; 57P01–57P03: the server is shutting down or starting up;
    // Node's socket errors when the server is gone.
    if (code.startsWith('08') || /^57P0[1-3]$/.test(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  }
  return /connection terminated|connection refused|terminating connection|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i.test(
    error.message,
  );
}

/** Why 250 ms → 2 s: a restarting PostgreSQL is back within seconds; faster tries only add log noise. */
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 2_000;

/**
 * Runs `work` again while it fails because the database is unreachable, until `windowMs` has passed;
 * any other error, or the last unreachable one, is thrown. Used after an outbound call went out: its
 * outcome is kept in memory and written once the database is back, instead of the job failing and
 * the provider being called again.
 */
export async function retryWhileDatabaseUnreachable<T>(work: () => Promise<T>, windowMs: number): Promise<T> {
  const deadline = Date.now() + windowMs;
  let delay = FIRST_DELAY_MS;
  for (;;) {
    try {
      return await work();
    } catch (error) {
      if (!isDatabaseUnreachable(error) || Date.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}
