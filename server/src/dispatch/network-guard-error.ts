import { describeRefusal, type Refusal } from './network-guard-addresses.ts';

export const NETWORK_GUARD_ERROR_CODE = 'network_guard';

/** Builds the user-facing message: it names the network guard, the address class and the way out. */
export function networkGuardMessage(refusal: Refusal, hostname?: string): string {
  return `Refused by the network guard: ${describeRefusal(refusal, hostname)}; allow it with ASYNCQUEUE_ALLOWED_CIDRS`;
}

/** Thrown (or passed to a connect callback) when the network guard refuses an address. */
export class NetworkGuardError extends Error {
  readonly code = NETWORK_GUARD_ERROR_CODE;
  /** The refused address, canonical form. */
  readonly address: string;
  /** The refused class: `loopback`, `private`, `link-local (cloud metadata)` … */
  readonly range: string;
  /** The host name that resolved to `address`, or null for an IP literal. */
  readonly hostname: string | null;

  constructor(refusal: Refusal, hostname?: string) {
    super(networkGuardMessage(refusal, hostname));
    this.name = 'NetworkGuardError';
    this.address = refusal.address;
    this.range = refusal.range;
    this.hostname = hostname && hostname !== refusal.address ? hostname : null;
  }
}

/** How deep to follow `cause` / `errors` links: undici wraps at most two or three times. */
const MAX_CAUSE_DEPTH = 8;

/**
 * Finds a NetworkGuardError behind undici's wrapping (fetch's `TypeError: fetch failed` keeps it
 * in `cause`; `autoSelectFamily` may put it in an AggregateError's `errors`).
 */
export function findNetworkGuardError(err: unknown): NetworkGuardError | null {
  const seen = new Set<unknown>();
  let level: unknown[] = [err];
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && level.length > 0; depth += 1) {
    const next: unknown[] = [];
    for (const candidate of level) {
      if (candidate instanceof NetworkGuardError) return candidate;
      if (candidate === null || typeof candidate !== 'object' || seen.has(candidate)) continue;
      seen.add(candidate);
      next.push(...linkedErrors(candidate));
    }
    level = next;
  }
  return null;
}

function linkedErrors(candidate: object): unknown[] {
  const linked: unknown[] = [];
  if ('cause' in candidate) linked.push(candidate.cause);
  if ('errors' in candidate && Array.isArray(candidate.errors)) linked.push(...candidate.errors);
  return linked;
}
