import { describe, expect, it } from 'vitest';
import { NetworkGuardError } from './network-guard.ts';
import { describeError, findErrorCode } from './outbound-errors.ts';

const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('describeError', () => {
  it('names the network guard first, even behind wrapping', () => {
    const guard = new NetworkGuardError({ address: '10.0.0.1', range: 'private' });
    const wrapped = new TypeError('fetch failed', { cause: new AggregateError([guard]) });
    expect(describeError(wrapped, false, 1_000, [])).toEqual({ kind: 'network_guard', message: guard.message });
  });

  it('reports the deadline as a timeout', () => {
    expect(describeError(new Error('aborted'), true, 30_000, [])).toEqual({
      kind: 'timeout',
      message: 'Timed out after 30000 ms',
    });
  });

  it.each([
    ['ENOTFOUND', 'dns'],
    ['EAI_AGAIN', 'dns'],
    ['ECONNREFUSED', 'network'],
    ['ECONNRESET', 'network'],
    ['UND_ERR_SOCKET', 'network'],
    ['UND_ERR_CONNECT_TIMEOUT', 'network'],
    ['CERT_HAS_EXPIRED', 'network'],
  ])('%s → %s', (code, kind) => {
    expect(describeError(coded(`boom ${code}`, code), false, 1_000, []).kind).toBe(kind);
  });

  it('never repeats a header value in its message', () => {
    const err = new Error('invalid header: Bearer sk-live-abcdef123456');
    const { message } = describeError(err, false, 1_000, ['Bearer sk-live-abcdef123456', 'json']);
    expect(message).not.toContain('sk-live');
    expect(message).toContain('[redacted]');
  });
});

describe('findErrorCode', () => {
  it('finds a code behind cause and errors links', () => {
    const inner = coded('refused', 'ECONNREFUSED');
    expect(findErrorCode(new Error('outer', { cause: new AggregateError([new Error('x'), inner]) }))).toBe(
      'ECONNREFUSED',
    );
    expect(findErrorCode('not an error')).toBeNull();
  });
});
