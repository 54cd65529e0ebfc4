// Parsing a Retry-After header (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.

// Why: a target-requested delay is capped at 1 h, so a hostile or buggy header cannot park a task.
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * The delay a Retry-After value asks for, in ms from `now`, capped at 1 h; null when absent,
 * invalid, negative or a date already past.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^-?\d+$/.test(text)) {
    const seconds = Number(text);
    return seconds < 0 ? null : Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  }
  // Every HTTP-date form (IMF-fixdate, RFC 850, asctime) names a month: without a letter, Date.parse
  // would accept things like "1.5" or "2026" that are not dates at all.
  if (!/[a-z]/i.test(text)) return null;
  const at = Date.parse(text);
  if (!Number.isFinite(at) || at < now) return null;
  return Math.min(at - now, MAX_RETRY_AFTER_MS);
}
