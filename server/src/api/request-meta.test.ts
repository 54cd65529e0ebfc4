import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientIp } from './request-meta.ts';

const req = (forwarded: string | undefined, socket = '10.0.0.9') =>
  ({
    socket: { remoteAddress: socket },
    headers: forwarded ? { 'x-forwarded-for': forwarded } : {},
  }) as IncomingMessage;

describe('clientIp (the key of the per-IP callback limit)', () => {
  it('uses the socket address unless TRUST_PROXY names hops to trust', () => {
    expect(clientIp(req('203.0.113.7'), 0)).toBe('10.0.0.9');
    expect(clientIp(req(undefined), 2)).toBe('10.0.0.9');
  });

  it('takes the entry TRUST_PROXY hops from the right, so a client cannot spoof it', () => {
    // client spoofs "1.1.1.1"; the real client is 203.0.113.7, seen by proxy A, then proxy B (the socket).
    const header = '1.1.1.1, 203.0.113.7, 198.51.100.2';
    expect(clientIp(req(header), 1)).toBe('198.51.100.2');
    expect(clientIp(req(header), 2)).toBe('203.0.113.7');
  });
});
