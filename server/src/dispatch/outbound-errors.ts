import { findNetworkGuardError } from './network-guard.ts';
import type { OutboundFailure } from './outbound-types.ts';

// Turns whatever undici or the network guard threw into a failure kind and a message that is
// safe to store and show (no header values).

export type FailureWithoutDuration = Omit<OutboundFailure, 'durationMs'>;

/** Resolver error codes: the name could not be resolved (now). */
const DNS_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NODATA', 'ENODATA']);

/** How deep to follow `cause` / `errors` links looking for an error code. */
const MAX_CAUSE_DEPTH = 8;

// Why: secrets are long; shorter values (attempt numbers, "json") would redact innocent words.
const MIN_REDACTED_VALUE_LENGTH = 6;

/**
 * Classifies a rejected attempt. `timedOut` says whether the attempt's own deadline fired;
 * `headerValues` are redacted from any message as a last line of defence.
 */
export function describeError(
  err: unknown,
  timedOut: boolean,
  timeoutMs: number,
  headerValues: readonly string[],
): FailureWithoutDuration {
  const guard = findNetworkGuardError(err);
  if (guard !== null) return { kind: 'network_guard', message: guard.message };
  if (timedOut) return { kind: 'timeout', message: `Timed out after ${timeoutMs} ms` };
  const code = findErrorCode(err);
  const detail = redact(errorMessage(err), headerValues);
  if (code !== null && DNS_CODES.has(code)) return { kind: 'dns', message: `DNS lookup failed: ${detail}` };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { kind: 'network', message: `Connect timed out: ${detail}` };
  return { kind: 'network', message: `Connection failed${code === null ? '' : ` (${code})`}: ${detail}` };
}

/** The first `code` string on the error or behind its `cause` / `errors` links. */
export function findErrorCode(err: unknown): string | null {
  let level: unknown[] = [err];
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && level.length > 0; depth += 1) {
    const next: unknown[] = [];
    for (const candidate of level) {
      if (candidate === null || typeof candidate !== 'object') continue;
      if ('code' in candidate && typeof candidate.code === 'string') return candidate.code;
      if ('cause' in candidate) next.push(candidate.cause);
      if ('errors' in candidate && Array.isArray(candidate.errors)) next.push(...candidate.errors);
    }
    level = next;
  }
  return null;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error && err.message !== '') return err.message;
  if (err instanceof AggregateError) return 'several connection attempts failed';
  return String(err);
}

function redact(message: string, values: readonly string[]): string {
  let safe = message;
  for (const value of values) {
    if (value.length >= MIN_REDACTED_VALUE_LENGTH) safe = safe.split(value).join('[redacted]');
  }
  return safe;
}
