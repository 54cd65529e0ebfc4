import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { BLOCKED_IPV4, type IPAddress, IPV6_RULES, type IPv4, type IPv6 } from './network-guard-ranges.ts';

/** The CIDRs a self-hoster opened with ASYNCQUEUE_ALLOWED_CIDRS, parsed once. */
export type AllowedCidrs = {
  readonly entries: readonly AllowedCidr[];
};

export type AllowedCidr = {
  readonly text: string;
  readonly range: readonly [IPAddress, number];
};

/** Why an address was refused, in parts, so messages can also name the host it came from. */
export type Refusal = {
  /** The address as judged, canonical form (RFC 5952 for IPv6). */
  readonly address: string;
  /** The class that refused it: `loopback`, `private`, `link-local (cloud metadata)` … */
  readonly range: string;
  /** For IPv6 forms that carry an IPv4 address: the form and the carried address. */
  readonly via?: { readonly form: string; readonly carried: string };
};

export type AddressVerdict = { allowed: true } | ({ allowed: false; reason: string } & Refusal);

export const NO_ALLOWED_CIDRS: AllowedCidrs = Object.freeze({ entries: Object.freeze([]) });

/**
 * Parse "127.0.0.0/8,10.0.0.0/8,::1/128" (commas and/or white space). A bare address means a
 * single host. Throws an Error naming the first bad entry.
 */
export function parseAllowedCidrs(text: string | undefined): AllowedCidrs {
  const parts = (text ?? '').split(/[\s,]+/).filter((part) => part !== '');
  return Object.freeze({ entries: Object.freeze(parts.map(parseAllowedEntry)) });
}

function parseAllowedEntry(text: string): AllowedCidr {
  const [address = '', prefixText, extra] = text.split('/');
  const family = isIP(address);
  const maxPrefix = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? maxPrefix : Number(prefixText);
  const validPrefix = prefixText === undefined || /^\d{1,3}$/.test(prefixText);
  if (family === 0 || extra !== undefined || !validPrefix || prefix > maxPrefix || address.includes('%')) {
    throw new Error(
      `Invalid entry "${text}" in ASYNCQUEUE_ALLOWED_CIDRS: expected an IP address or a CIDR such as 10.0.0.0/8 or fd00::/8`,
    );
  }
  return Object.freeze({ text, range: normalizeRange(ipaddr.parse(address), prefix) });
}

/** "::ffff:10.0.0.0/104" opens the same addresses as "10.0.0.0/8": store it as IPv4. */
function normalizeRange(address: IPAddress, prefix: number): readonly [IPAddress, number] {
  if (address.kind() === 'ipv6' && prefix >= 96 && (address as IPv6).isIPv4MappedAddress()) {
    return Object.freeze([(address as IPv6).toIPv4Address(), prefix - 96] as const);
  }
  return Object.freeze([address, prefix] as const);
}

/** Parse one IP address (brackets and an IPv6 zone allowed); null when it is not one. */
export function parseAddress(text: string): IPAddress | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  // net.isIP accepts only the standard notations; ipaddr.js alone would also take "0x7f.1".
  if (isIP(bare) === 0) return null;
  try {
    return ipaddr.parse(bare);
  } catch {
    return null;
  }
}

/** The canonical text of an address: dotted quad, or RFC 5952 for IPv6 (zone dropped). */
export function formatAddress(address: IPAddress): string {
  return address.kind() === 'ipv4' ? address.toString() : (address as IPv6).toRFC5952String().replace(/%.*$/, '');
}

/**
 * The allow list means exactly the ranges given: 127.0.0.0/8 does not allow ::1 (list `::1` too
 * for a `localhost` that resolves to both). IPv4-mapped and other embedding forms are judged as the
 * IPv4 they carry by judgeAddress, not here.
 */
function isInAllowList(address: IPAddress, allowed: AllowedCidrs): boolean {
  return allowed.entries.some(({ range }) => range[0].kind() === address.kind() && address.match([range[0], range[1]]));
}

/**
 * Judge one IP address. IPv4-mapped, IPv4-compatible, NAT64, 6to4 and Teredo forms are judged
 * as the IPv4 address(es) they carry; an allow-listed address is always allowed.
 */
export function isAddressAllowed(address: string, allowed: AllowedCidrs): AddressVerdict {
  const parsed = parseAddress(address);
  if (parsed === null) return refuse({ address, range: 'not a valid IP address' });
  return judgeAddress(parsed, allowed);
}

/** Judge a parsed address: the allow list first, then the blocked ranges. */
export function judgeAddress(address: IPAddress, allowed: AllowedCidrs): AddressVerdict {
  if (isInAllowList(address, allowed)) return { allowed: true };
  const text = formatAddress(address);
  if (address.kind() === 'ipv4') {
    const hit = BLOCKED_IPV4.find(({ cidr }) => address.match([cidr[0], cidr[1]]));
    return hit ? refuse({ address: text, range: hit.label }) : { allowed: true };
  }
  const rule = IPV6_RULES.find(({ cidr }) => address.match([cidr[0], cidr[1]]));
  if (rule === undefined) return { allowed: true };
  if (rule.kind === 'block') return refuse({ address: text, range: rule.label });
  for (const carried of rule.extract(address.toByteArray())) {
    const verdict = judgeAddress(carried, allowed);
    if (!verdict.allowed) {
      return refuse({ address: text, range: verdict.range, via: { form: rule.label, carried: verdict.address } });
    }
  }
  return { allowed: true };
}

function refuse(refusal: Refusal): AddressVerdict {
  return { allowed: false, reason: describeRefusal(refusal), ...refusal };
}

/** "127.0.0.1 is loopback", "::ffff:7f00:1 is an IPv4-mapped address carrying 127.0.0.1, which is loopback". */
export function describeRefusal(refusal: Refusal, hostname?: string): string {
  const from = hostname && hostname !== refusal.address ? ` (resolved from ${hostname})` : '';
  if (refusal.via === undefined) return `${refusal.address}${from} is ${refusal.range}`;
  const { form, carried } = refusal.via;
  const article = /^[aeiouI]/.test(form) ? 'an' : 'a';
  return `${refusal.address}${from} is ${article} ${form} address carrying ${carried}, which is ${refusal.range}`;
}

export type { IPAddress, IPv4, IPv6 };
