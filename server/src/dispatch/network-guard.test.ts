import type { LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import type { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AllowedCidrs,
  checkLiteralUrlHost,
  createGuardedAgent,
  createGuardedLookup,
  findNetworkGuardError,
  NO_ALLOWED_CIDRS,
  parseAllowedCidrs,
  type Resolver,
  systemResolver,
} from './network-guard.ts';
import {
  fetchError,
  fetchText,
  startRedirector,
  startTextServer,
  type TestServer,
} from './network-guard-test-servers.ts';

// Why: every server is local and every refusal happens before a connection, so 2 s is generous.
const CONNECT_TIMEOUT_MS = 2_000;

/** Fake DNS names for the table; anything else goes to the system resolver (localhost). */
const FAKE_DNS: Record<string, LookupAddress[]> = {
  'metadata.test': [{ address: '169.254.169.254', family: 4 }],
  'internal.test': [{ address: '10.0.0.5', family: 4 }],
  'loopback6.test': [{ address: '::1', family: 6 }],
  'mapped.test': [{ address: '::ffff:127.0.0.1', family: 6 }],
  'mixed.test': [
    { address: '8.8.8.8', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};

const fakeResolver: Resolver = (hostname) => {
  const answer = FAKE_DNS[hostname];
  return answer ? Promise.resolve(answer) : systemResolver(hostname);
};

/** Every vector is refused with nothing allow-listed; PORT is the canary's port. */
const VECTORS: readonly (readonly [url: string, range: string])[] = [
  ['http://127.0.0.1:PORT/', 'loopback'],
  ['https://127.0.0.1:PORT/', 'loopback'],
  ['http://localhost:PORT/', 'loopback'],
  ['http://2130706433:PORT/', 'loopback'],
  ['http://0x7f.1:PORT/', 'loopback'],
  ['http://0x7f000001:PORT/', 'loopback'],
  ['http://0177.0.0.1:PORT/', 'loopback'],
  ['http://127.1:PORT/', 'loopback'],
  ['http://127.0.0.1.:PORT/', 'loopback'],
  ['http://%31%32%37.0.0.1:PORT/', 'loopback'],
  ['http://127.255.255.254:PORT/', 'loopback'],
  ['http://[::1]:PORT/', 'loopback'],
  ['http://[0:0:0:0:0:0:0:1]:PORT/', 'loopback'],
  ['http://[::ffff:127.0.0.1]:PORT/', 'loopback'],
  ['http://[::ffff:7f00:1]:PORT/', 'loopback'],
  ['http://[0:0:0:0:0:ffff:127.0.0.1]:PORT/', 'loopback'],
  ['http://[::127.0.0.1]:PORT/', 'loopback'],
  ['http://[::ffff:0:7f00:1]:PORT/', 'loopback'],
  ['http://[64:ff9b::7f00:1]:PORT/', 'loopback'],
  ['http://[64:ff9b:1::7f00:1]:PORT/', 'loopback'],
  ['http://[2002:7f00:1::]:PORT/', 'loopback'],
  ['http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:PORT/', 'loopback'],
  ['http://0.0.0.0:PORT/', 'unspecified'],
  ['http://0:PORT/', 'unspecified'],
  ['http://[::]:PORT/', 'unspecified'],
  ['http://loopback6.test:PORT/', 'loopback'],
  ['http://mapped.test:PORT/', 'loopback'],
  ['http://mixed.test:PORT/', 'loopback'],
  ['http://10.0.0.1/', 'private'],
  ['http://167772161/', 'private'],
  ['http://0xa000001/', 'private'],
  ['http://012.0.0.1/', 'private'],
  ['http://172.16.0.1/', 'private'],
  ['http://172.31.255.255/', 'private'],
  ['http://192.168.1.1/', 'private'],
  ['http://[::ffff:a00:1]/', 'private'],
  ['http://internal.test/', 'private'],
  ['http://169.254.169.254/latest/meta-data/', 'cloud metadata'],
  ['http://2852039166/latest/meta-data/', 'cloud metadata'],
  ['http://0xa9fea9fe/latest/meta-data/', 'cloud metadata'],
  ['http://0251.0376.0251.0376/latest/meta-data/', 'cloud metadata'],
  ['http://169.254.43518/', 'cloud metadata'],
  ['http://[::ffff:169.254.169.254]/', 'cloud metadata'],
  ['http://metadata.test/latest/meta-data/', 'cloud metadata'],
  ['http://169.254.1.1/', 'link-local'],
  ['http://100.64.0.1/', 'carrier-grade NAT'],
  ['http://[fc00::1]/', 'unique local'],
  ['http://[fd12:3456::1]/', 'unique local'],
  ['http://[fd00:ec2::254]/', 'unique local'],
  ['http://[fe80::1]/', 'link-local'],
  ['http://[fec0::1]/', 'site-local'],
  ['http://224.0.0.1/', 'multicast'],
  ['http://[ff02::1]/', 'multicast'],
  ['http://255.255.255.255/', 'broadcast'],
  ['http://240.0.0.1/', 'reserved'],
  ['http://198.18.0.1/', 'benchmarking'],
];

const isLiteralHost = (url: string) => isIP(new URL(url).hostname.replace(/^\[|\]$/g, '')) !== 0;

const agents: Agent[] = [];
const guardedAgent = (allowed: AllowedCidrs, lookup: Resolver = fakeResolver): Agent => {
  const agent = createGuardedAgent({ allowed, connectTimeoutMs: CONNECT_TIMEOUT_MS, lookup });
  agents.push(agent);
  return agent;
};

let canary: TestServer;
const atCanary = (url: string) => url.replace('PORT', String(canary.port));

beforeAll(async () => {
  canary = await startTextServer('127.0.0.1', 'canary', { alsoIpv6Loopback: true });
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.close()));
  await canary.close();
});

describe('network guard: every vector refused when nothing is allow-listed', () => {
  it(`has a table of ${VECTORS.length} vectors`, () => {
    expect(VECTORS.length).toBeGreaterThanOrEqual(30);
  });

  it.each(VECTORS)('refuses %s (%s) at creation when literal and at dispatch always', async (url, range) => {
    const target = atCanary(url);
    const literalReason = checkLiteralUrlHost(target, NO_ALLOWED_CIDRS);
    if (isLiteralHost(target)) {
      expect(literalReason).toMatch(/^Refused by the network guard: .+ASYNCQUEUE_ALLOWED_CIDRS$/);
      expect(literalReason).toContain(range);
    } else {
      expect(literalReason).toBeNull();
    }
    const guardError = findNetworkGuardError(await fetchError(target, guardedAgent(NO_ALLOWED_CIDRS)));
    expect(guardError?.code).toBe('network_guard');
    expect(guardError?.range).toContain(range);
    expect(guardError?.message).toContain('network guard');
  });

  it('let no request reach the canary', () => {
    expect(canary.hits()).toBe(0);
  });
});

describe('network guard: the allow list is the only way in', () => {
  it('reaches the canary by literal and by localhost once 127.0.0.0/8 is allowed', async () => {
    const agent = guardedAgent(parseAllowedCidrs('127.0.0.0/8'), systemResolver);
    const before = canary.hits();
    for (const url of ['http://127.0.0.1:PORT/', 'http://localhost:PORT/', 'http://2130706433:PORT/']) {
      expect(checkLiteralUrlHost(atCanary(url), parseAllowedCidrs('127.0.0.0/8'))).toBeNull();
      expect(await fetchText(atCanary(url), agent)).toMatchObject({ status: 200, text: 'canary' });
    }
    expect(canary.hits()).toBe(before + 3);
    for (const url of ['http://10.0.0.1/', 'http://169.254.169.254/', 'http://0.0.0.0:PORT/', 'http://[::]:PORT/']) {
      expect(findNetworkGuardError(await fetchError(atCanary(url), agent))).not.toBeNull();
    }
    expect(canary.hits()).toBe(before + 3);
  });

  it('allows public literals at creation', () => {
    expect(checkLiteralUrlHost('http://8.8.8.8/', NO_ALLOWED_CIDRS)).toBeNull();
    expect(checkLiteralUrlHost('https://[2606:4700::1111]/', NO_ALLOWED_CIDRS)).toBeNull();
    expect(checkLiteralUrlHost('https://example.com/', NO_ALLOWED_CIDRS)).toBeNull();
    expect(checkLiteralUrlHost('not a url', NO_ALLOWED_CIDRS)).toBeNull();
  });
});

describe('network guard: DNS answers', () => {
  it('names the host and the address it resolved to', async () => {
    const err = findNetworkGuardError(await fetchError('http://internal.test/', guardedAgent(NO_ALLOWED_CIDRS)));
    expect(err?.hostname).toBe('internal.test');
    expect(err?.message).toBe(
      'Refused by the network guard: 10.0.0.5 (resolved from internal.test) is private; allow it with ASYNCQUEUE_ALLOWED_CIDRS',
    );
  });

  it('connects to the address it checked, so a rebinding answer cannot reach the canary', async () => {
    // 127.0.0.2 stands in for an allowed public address; the canary owns 127.0.0.1 on the same port.
    const safe = await startTextServer('127.0.0.2', 'safe', { port: canary.port });
    const answers: LookupAddress[][] = [[{ address: '127.0.0.2', family: 4 }]];
    const rebinding: Resolver = async () => answers.shift() ?? [{ address: '127.0.0.1', family: 4 }];
    const agent = guardedAgent(parseAllowedCidrs('127.0.0.2/32'), rebinding);
    const before = canary.hits();
    try {
      const url = `http://rebind.test:${canary.port}/`;
      expect(await fetchText(url, agent)).toMatchObject({ status: 200, text: 'safe' });
      const err = findNetworkGuardError(await fetchError(url, agent));
      expect(err).toMatchObject({ address: '127.0.0.1', range: 'loopback', hostname: 'rebind.test' });
      expect(safe.hits()).toBe(1);
      expect(canary.hits()).toBe(before);
    } finally {
      await safe.close();
    }
  });

  it('refuses a name when any of its addresses is refused, without connecting to the others', async () => {
    const safe = await startTextServer('127.0.0.2', 'safe', { port: canary.port });
    const split: Resolver = async () => [
      { address: '127.0.0.2', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ];
    const agent = guardedAgent(parseAllowedCidrs('127.0.0.2/32'), split);
    const before = canary.hits();
    try {
      const err = findNetworkGuardError(await fetchError(`http://split.test:${canary.port}/`, agent));
      expect(err?.address).toBe('127.0.0.1');
      expect(safe.hits()).toBe(0);
      expect(canary.hits()).toBe(before);
    } finally {
      await safe.close();
    }
  });
});

describe('network guard: the lookup handed to net.connect', () => {
  const dual: Resolver = async () => [
    { address: '2606:4700::1111', family: 6 },
    { address: '1.1.1.1', family: 4 },
  ];
  const lookupWith = (options: { all?: boolean; family?: number }) =>
    new Promise<unknown[]>((resolve) => {
      createGuardedLookup(NO_ALLOWED_CIDRS, dual)('dual.test', options, (...args) => resolve(args));
    });

  it('answers in both callback shapes and honours a requested family', async () => {
    expect(await lookupWith({ all: true })).toEqual([null, await dual('dual.test')]);
    expect(await lookupWith({})).toEqual([null, '2606:4700::1111', 6]);
    expect(await lookupWith({ family: 4 })).toEqual([null, '1.1.1.1', 4]);
  });

  it('fails with a NetworkGuardError, not an address, when refused', async () => {
    const [err] = await new Promise<unknown[]>((resolve) => {
      createGuardedLookup(NO_ALLOWED_CIDRS, fakeResolver)('internal.test', { all: true }, (...args) => resolve(args));
    });
    expect(findNetworkGuardError(err)?.address).toBe('10.0.0.5');
  });
});

describe('network guard: redirects', () => {
  const hops = [
    'http://127.0.0.1:PORT/',
    'http://localhost:PORT/',
    'http://2130706433:PORT/',
    'http://[::ffff:127.0.0.1]:PORT/',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/',
  ];

  it.each(hops)('refuses the hop to %s through the same agent, manual or followed', async (hop) => {
    const redirector = await startRedirector('127.0.0.3');
    const agent = guardedAgent(parseAllowedCidrs('127.0.0.3/32'), systemResolver);
    const before = canary.hits();
    try {
      const start = `http://127.0.0.3:${redirector.port}/?to=${encodeURIComponent(atCanary(hop))}`;
      const first = await fetchText(start, agent);
      expect(first).toMatchObject({ status: 302, location: atCanary(hop) });
      expect(findNetworkGuardError(await fetchError(first.location ?? '', agent))).not.toBeNull();
      expect(findNetworkGuardError(await fetchError(start, agent, 'follow'))).not.toBeNull();
      expect(redirector.hits()).toBe(2);
      expect(canary.hits()).toBe(before);
    } finally {
      await redirector.close();
    }
  });
});
