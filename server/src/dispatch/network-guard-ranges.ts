import ipaddr from 'ipaddr.js';

// The address ranges the network guard refuses, and the IPv6 forms that carry an IPv4 address.
// First match wins, so specific entries come before the ranges that contain them.

export type IPv4 = ipaddr.IPv4;
export type IPv6 = ipaddr.IPv6;
export type IPAddress = IPv4 | IPv6;

export type BlockedRange<T extends IPAddress> = {
  readonly cidr: readonly [T, number];
  readonly label: string;
};

/** An IPv6 range whose addresses embed one or more IPv4 addresses, judged in their place. */
export type EmbeddingRange = {
  readonly cidr: readonly [IPv6, number];
  readonly label: string;
  readonly extract: (bytes: readonly number[]) => IPv4[];
};

export type IPv6Rule = ({ kind: 'block' } & BlockedRange<IPv6>) | ({ kind: 'embed' } & EmbeddingRange);

const v4 = (cidr: string, label: string): BlockedRange<IPv4> => ({ cidr: ipaddr.IPv4.parseCIDR(cidr), label });

const block6 = (cidr: string, label: string): IPv6Rule => ({
  kind: 'block',
  cidr: ipaddr.IPv6.parseCIDR(cidr),
  label,
});

const embed6 = (cidr: string, label: string, extract: EmbeddingRange['extract']): IPv6Rule => ({
  kind: 'embed',
  cidr: ipaddr.IPv6.parseCIDR(cidr),
  label,
  extract,
});

export const BLOCKED_IPV4: readonly BlockedRange<IPv4>[] = [
  v4('255.255.255.255/32', 'broadcast'),
  v4('169.254.169.254/32', 'link-local (cloud metadata)'),
  v4('0.0.0.0/8', 'unspecified ("this network")'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'carrier-grade NAT (shared address space)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'reserved (IETF protocol assignments)'),
  v4('192.0.2.0/24', 'documentation'),
  v4('192.88.99.0/24', 'reserved (6to4 relay anycast)'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation'),
  v4('203.0.113.0/24', 'documentation'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'),
];

/** Four bytes starting at `start`, as an IPv4 address. */
const ipv4At = (bytes: readonly number[], start: number): IPv4 => new ipaddr.IPv4(bytes.slice(start, start + 4));

/**
 * RFC 6052 §2.2: the IPv4 address follows a prefix of `prefixBits` and skips bits 64–71 (the
 * "u" octet), so it is not always the last 32 bits.
 */
const rfc6052At = (bytes: readonly number[], prefixBits: number): IPv4 => {
  const octets: number[] = [];
  for (let i = prefixBits / 8; octets.length < 4; i += 1) {
    if (i !== 8) octets.push(bytes[i] ?? 0);
  }
  return new ipaddr.IPv4(octets);
};

/** Teredo (RFC 4380): server IPv4 in bits 32–63, client IPv4 bit-inverted in the last 32 bits. */
const teredo = (bytes: readonly number[]): IPv4[] => [
  ipv4At(bytes, 4),
  new ipaddr.IPv4(bytes.slice(12, 16).map((b) => b ^ 0xff)),
];

export const IPV6_RULES: readonly IPv6Rule[] = [
  block6('::/128', 'unspecified'),
  block6('::1/128', 'loopback'),
  embed6('::ffff:0:0/96', 'IPv4-mapped', (b) => [ipv4At(b, 12)]),
  embed6('::ffff:0:0:0/96', 'IPv4-translated', (b) => [ipv4At(b, 12)]),
  embed6('::/96', 'IPv4-compatible', (b) => [ipv4At(b, 12)]),
  embed6('64:ff9b::/96', 'NAT64', (b) => [ipv4At(b, 12)]),
  // A local-use NAT64 prefix may be /48, /56, /64 or /96: every reading must be allowed.
  embed6('64:ff9b:1::/48', 'local-use NAT64', (b) => [96, 64, 56, 48].map((p) => rfc6052At(b, p))),
  embed6('2002::/16', '6to4', (b) => [ipv4At(b, 2)]),
  embed6('2001::/32', 'Teredo', teredo),
  block6('::/8', 'reserved'),
  block6('100::/64', 'discard-only'),
  block6('2001:2::/48', 'benchmarking'),
  block6('2001:db8::/32', 'documentation'),
  block6('3fff::/20', 'documentation'),
  block6('fc00::/7', 'unique local (ULA)'),
  block6('fe80::/10', 'link-local'),
  block6('fec0::/10', 'site-local'),
  block6('ff00::/8', 'multicast'),
];
