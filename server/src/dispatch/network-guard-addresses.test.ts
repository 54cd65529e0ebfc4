import { describe, expect, it } from 'vitest';
import { isAddressAllowed, NO_ALLOWED_CIDRS, parseAllowedCidrs } from './network-guard-addresses.ts';
import { findNetworkGuardError, NetworkGuardError } from './network-guard-error.ts';

const refusedRange = (address: string, allowed = NO_ALLOWED_CIDRS): string | null => {
  const verdict = isAddressAllowed(address, allowed);
  return verdict.allowed ? null : verdict.range;
};

describe('isAddressAllowed', () => {
  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.215.14',
    '2606:4700::1111',
    '2001:4860:4860::8888',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
    '172.32.0.1',
    '100.128.0.1',
  ])('allows the public address %s', (address) => {
    expect(isAddressAllowed(address, NO_ALLOWED_CIDRS)).toEqual({ allowed: true });
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['169.254.1.1', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT (shared address space)'],
    ['0.0.0.0', 'unspecified ("this network")'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['198.18.0.1', 'benchmarking'],
    ['192.0.2.1', 'documentation'],
    ['fc00::1', 'unique local (ULA)'],
    ['fd00:ec2::254', 'unique local (ULA)'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fec0::1', 'site-local'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link-local (cloud metadata)'],
    ['::127.0.0.1', 'loopback'],
    ['::ffff:0:a00:1', 'private'],
    ['64:ff9b::a00:1', 'private'],
    ['64:ff9b:1::7f00:1', 'loopback'],
    ['2002:c0a8:101::1', 'private'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback'],
    ['2001:0:a00:1:8000:63bf:f7f7:f7f7', 'private'],
    ['2001:db8::1', 'documentation'],
  ])('refuses %s as %s', (address, range) => {
    expect(refusedRange(address)).toBe(range);
  });

  it('refuses a local-use NAT64 address when any RFC 6052 reading is refused', () => {
    // Read with a /96 prefix it carries 8.8.8.8; with a /48 prefix, 127.0.0.1.
    expect(refusedRange('64:ff9b:1:7f00:0:100:808:808')).not.toBeNull();
  });

  it('refuses what is not a standard IP address, including legacy IPv4 notations', () => {
    for (const text of ['', 'localhost', '0x7f.1', '2130706433', '127.1', '0177.0.0.1', '1.2.3.4.5']) {
      expect(refusedRange(text)).toBe('not a valid IP address');
    }
  });

  it('names the refused address and the form that carried it', () => {
    expect(isAddressAllowed('127.0.0.1', NO_ALLOWED_CIDRS)).toMatchObject({ reason: '127.0.0.1 is loopback' });
    expect(isAddressAllowed('::ffff:7f00:1', NO_ALLOWED_CIDRS)).toMatchObject({
      reason: '::ffff:7f00:1 is an IPv4-mapped address carrying 127.0.0.1, which is loopback',
    });
    expect(isAddressAllowed('64:ff9b::a9fe:a9fe', NO_ALLOWED_CIDRS)).toMatchObject({
      reason: '64:ff9b::a9fe:a9fe is a NAT64 address carrying 169.254.169.254, which is link-local (cloud metadata)',
    });
  });

  it('lets the allow list in, for embedded forms too, and nothing else', () => {
    const allowed = parseAllowedCidrs('127.0.0.0/8, 10.0.0.0/8');
    for (const address of ['127.0.0.1', '127.9.9.9', '::ffff:127.0.0.1', '64:ff9b::7f00:1', '10.2.3.4']) {
      expect(isAddressAllowed(address, allowed)).toEqual({ allowed: true });
    }
    expect(refusedRange('192.168.1.1', allowed)).toBe('private');
    expect(refusedRange('169.254.169.254', allowed)).toBe('link-local (cloud metadata)');
    expect(refusedRange('::', allowed)).toBe('unspecified');
  });

  it('allowing 127.0.0.0/8 does not allow ::1, nor ::1 allow 127.0.0.1: the list means exactly its ranges', () => {
    expect(refusedRange('::1', parseAllowedCidrs('127.0.0.0/8'))).toBe('loopback');
    expect(refusedRange('127.0.0.1', parseAllowedCidrs('::1/128'))).toBe('loopback');
    expect(isAddressAllowed('::ffff:127.0.0.1', parseAllowedCidrs('127.0.0.0/8'))).toEqual({ allowed: true });
    expect(isAddressAllowed('::1', parseAllowedCidrs('127.0.0.0/8, ::1'))).toEqual({ allowed: true });
  });

  it('reads IPv4-mapped IPv6 allow entries as IPv4', () => {
    const allowed = parseAllowedCidrs('::ffff:10.0.0.0/104');
    expect(isAddressAllowed('10.9.9.9', allowed)).toEqual({ allowed: true });
    expect(refusedRange('11.0.0.1', allowed)).toBeNull();
    expect(refusedRange('172.16.0.1', allowed)).toBe('private');
  });
});

describe('parseAllowedCidrs', () => {
  it('accepts commas and white space, bare addresses and IPv6', () => {
    const allowed = parseAllowedCidrs(' 127.0.0.0/8,10.0.0.0/8 ::1/128\n192.168.1.5 , fd00::/8 ');
    expect(allowed.entries.map((entry) => entry.text)).toEqual([
      '127.0.0.0/8',
      '10.0.0.0/8',
      '::1/128',
      '192.168.1.5',
      'fd00::/8',
    ]);
    expect(isAddressAllowed('192.168.1.5', allowed)).toEqual({ allowed: true });
    expect(refusedRange('192.168.1.6', allowed)).toBe('private');
    expect(isAddressAllowed('fd12::1', allowed)).toEqual({ allowed: true });
  });

  it('reads undefined and empty text as nothing allowed', () => {
    expect(parseAllowedCidrs(undefined).entries).toEqual([]);
    expect(parseAllowedCidrs('  , ').entries).toEqual([]);
  });

  it.each([
    'localhost',
    '127.0.0.0/33',
    '::1/129',
    '10.0.0.0/',
    '10.0.0.0/8/8',
    '10.0.0.0/-1',
    '10.0.0.0/x',
    '0x7f.1/8',
    '127.1/8',
    '300.0.0.0/8',
    'fe80::1%eth0/64',
  ])('throws an error naming the bad entry %j', (entry) => {
    expect(() => parseAllowedCidrs(`127.0.0.0/8,${entry}`)).toThrow(`"${entry}"`);
  });
});

describe('findNetworkGuardError', () => {
  const guardError = new NetworkGuardError({ address: '10.0.0.1', range: 'private' });

  it('finds the error through cause chains and aggregate errors', () => {
    const wrapped = new TypeError('fetch failed', { cause: new AggregateError([new Error('x'), guardError]) });
    expect(findNetworkGuardError(wrapped)).toBe(guardError);
    expect(findNetworkGuardError(guardError)).toBe(guardError);
  });

  it('returns null for other errors, non-errors and cycles', () => {
    const cyclic = new Error('a');
    cyclic.cause = cyclic;
    for (const value of [new Error('no'), cyclic, null, undefined, 'network_guard', { code: 'network_guard' }]) {
      expect(findNetworkGuardError(value)).toBeNull();
    }
  });

  it('carries the code and a message naming the guard, the class and the way out', () => {
    expect(guardError.code).toBe('network_guard');
    expect(guardError.message).toBe(
      'Refused by the network guard: 10.0.0.1 is private; allow it with ASYNCQUEUE_ALLOWED_CIDRS',
    );
    const named = new NetworkGuardError({ address: '10.0.0.1', range: 'private' }, 'db.internal');
    expect(named.hostname).toBe('db.internal');
    expect(named.message).toContain('10.0.0.1 (resolved from db.internal) is private');
  });
});
