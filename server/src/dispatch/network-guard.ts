import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Agent, buildConnector } from 'undici';
import {
  type AddressVerdict,
  type AllowedCidrs,
  isAddressAllowed,
  judgeAddress,
  parseAddress,
} from './network-guard-addresses.ts';
import { NetworkGuardError, networkGuardMessage } from './network-guard-error.ts';

// The SSRF guard for every outbound call. Two paths, both inside the connector:
// - IP-literal hosts (net.connect never calls `lookup` for them) are judged before connecting;
// - host names go through `lookup`, which resolves once, refuses unless every address is
//   allowed, and hands net.connect exactly the addresses it judged (no second DNS look-up, so
//   DNS rebinding cannot swap in another address).

export {
  type AddressVerdict,
  type AllowedCidrs,
  isAddressAllowed,
  NO_ALLOWED_CIDRS,
  parseAllowedCidrs,
} from './network-guard-addresses.ts';
export { findNetworkGuardError, NETWORK_GUARD_ERROR_CODE, NetworkGuardError } from './network-guard-error.ts';

/** Resolves a host name to all its addresses (defaults to dns.lookup with `all: true`). */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, order: 'verbatim' });

export type GuardedAgentOptions = {
  allowed: AllowedCidrs;
  /** TCP (and TLS) connect timeout, DNS look-up included. */
  connectTimeoutMs: number;
  /** Backstop for the response headers; callers enforce their own per-attempt timeout. */
  headersTimeoutMs?: number;
  /** Backstop for gaps between body chunks; callers enforce their own per-attempt timeout. */
  bodyTimeoutMs?: number;
  /** Bytes after which undici aborts a response; -1 (default) leaves the cut to the caller. */
  maxResponseSize?: number;
  /** How long an idle keep-alive connection is kept. */
  keepAliveTimeoutMs?: number;
  /** Host name resolver; tests replace it to simulate DNS answers. */
  lookup?: Resolver;
  /** Extra TLS options (a test CA, client certificates). */
  tls?: Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
};

// Why: per-attempt timeouts go up to 600 s (the task's `timeout`) and are enforced by the caller's abort
// signal; undici's own 300 s defaults would cut long attempts short, so the backstop sits just above.
const DEFAULT_HEADERS_TIMEOUT_MS = 610_000;
// Why: same reasoning as the headers backstop: the caller's per-attempt deadline must fire first.
const DEFAULT_BODY_TIMEOUT_MS = 610_000;
// Why: undici's 4 s default; a short idle life limits how long a connection outlives its check.
const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 4_000;

/**
 * At task creation: when the URL's host is an IP literal (any notation the WHATWG parser accepts,
 * which it normalizes) that is not allowed, the refusal message; host names → null (judged at
 * dispatch); an unparseable URL → null (URL validation is the caller's).
 */
export function checkLiteralUrlHost(url: string, allowed: AllowedCidrs): string | null {
  let hostname: string;
  try {
    hostname = new URL(url).hostname;
  } catch {
    return null;
  }
  return checkLiteralHost(hostname, allowed)?.message ?? null;
}

/** A NetworkGuardError when `hostname` is a refused IP literal (brackets allowed); else null. */
export function checkLiteralHost(hostname: string, allowed: AllowedCidrs): NetworkGuardError | null {
  const address = parseAddress(hostname);
  if (address === null) return null;
  const verdict = judgeAddress(address, allowed);
  return verdict.allowed ? null : new NetworkGuardError(verdict);
}

/**
 * Resolves `hostname` once and judges every address: throws NetworkGuardError when any is refused.
 * Returns the judged addresses, to be connected to as they are.
 */
export async function resolveAndCheck(
  hostname: string,
  allowed: AllowedCidrs,
  resolve: Resolver = systemResolver,
): Promise<LookupAddress[]> {
  const addresses = await resolve(hostname);
  if (addresses.length === 0) {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname });
  }
  for (const { address } of addresses) {
    const verdict: AddressVerdict = isAddressAllowed(address, allowed);
    if (!verdict.allowed) throw new NetworkGuardError(verdict, hostname);
  }
  return addresses.map(({ address, family }) => ({ address, family }));
}

/** A net/tls `lookup` that only ever returns addresses the guard allowed. */
export function createGuardedLookup(allowed: AllowedCidrs, resolve: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolveAndCheck(hostname, allowed, resolve).then(
      (addresses) => {
        const wanted = wantedFamily(options);
        const usable = wanted === 0 ? addresses : addresses.filter(({ family }) => family === wanted);
        const first = usable[0];
        if (first === undefined) {
          callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        } else if (options.all) {
          callback(null, usable);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (err: Error) => callback(err, '', 0),
    );
  };
}

function wantedFamily(options: LookupOptions): 0 | 4 | 6 {
  const { family } = options;
  if (family === 4 || family === 'IPv4') return 4;
  if (family === 6 || family === 'IPv6') return 6;
  return 0;
}

/** An undici connector that refuses IP literals itself and resolves names through the guarded lookup. */
export function createGuardedConnector(opts: GuardedAgentOptions): buildConnector.connector {
  const base = buildConnector({
    ...opts.tls,
    timeout: opts.connectTimeoutMs,
    lookup: createGuardedLookup(opts.allowed, opts.lookup),
  });
  return (options, callback) => {
    const refused = checkLiteralHost(options.hostname, opts.allowed);
    if (refused !== null) {
      // Asynchronously, as a real connection failure would be: undici's client expects it.
      process.nextTick(callback, refused, null);
      return;
    }
    return base(options, callback);
  };
}

/** An undici Agent whose every connection passes the network guard (use with undici's fetch/request). */
export function createGuardedAgent(opts: GuardedAgentOptions): Agent {
  return new Agent({
    connect: createGuardedConnector(opts),
    headersTimeout: opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    bodyTimeout: opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    maxResponseSize: opts.maxResponseSize ?? -1,
  });
}

export { networkGuardMessage };
