import { describe, expect, it } from 'vitest';
import { verifyDispatch } from '../../../sdk/src/verify-dispatch.ts';
import { dispatchHeaders } from './outbound-headers.ts';
import { asyncQueueSignature, dispatchSignature } from './signing.ts';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const ROTATED = `whsec_${Buffer.alloc(32, 8).toString('base64')}`;
const URL_ = 'https://api.example.com/run?x=1';
const base = {
  taskId: 'task-1',
  attempt: 3,
  method: 'POST',
  url: URL_,
  secrets: [SECRET],
  version: '1.2.3',
  unixSeconds: 1_700_000_000,
};

describe('dispatchHeaders', () => {
  it("adds AsyncQueue's headers to the user's, the signature over <t>.<METHOD>.<url>.<body>", () => {
    const headers = dispatchHeaders({ ...base, userHeaders: { 'Content-Type': 'application/json' }, body: '{"a":1}' });
    expect(headers).toEqual({
      'Content-Type': 'application/json',
      'User-Agent': 'AsyncQueue/1.2.3',
      'X-AsyncQueue-Task-Id': 'task-1',
      'X-AsyncQueue-Attempt': '3',
      'X-AsyncQueue-Signature': dispatchSignature(
        [SECRET],
        { method: 'POST', url: URL_, body: '{"a":1}' },
        1_700_000_000,
      ),
    });
  });

  it('a dispatch signature never verifies as a completion webhook signature (forged webhooks)', () => {
    const body = JSON.stringify({ event: 'task.completed', task: { id: 'victim', status: 'completed' } });
    const headers = dispatchHeaders({ ...base, userHeaders: {}, body });
    // What a key holder would replay to the team's webhook receiver: the same body, the same header.
    expect(headers['X-AsyncQueue-Signature']).not.toBe(asyncQueueSignature([SECRET], body, 1_700_000_000));
    const now = 1_700_000_000 * 1000;
    expect(() => verifyDispatch(body, headers, SECRET, { method: 'POST', url: URL_, now })).not.toThrow();
    expect(() => verifyDispatch(body, headers, SECRET, { method: 'POST', url: `${URL_}&y=2`, now })).toThrow(
      'No matching dispatch signature',
    );
    expect(() => verifyDispatch(body, headers, SECRET, { method: 'PUT', url: URL_, now })).toThrow();
  });

  it("keeps the user's User-Agent, whatever its case", () => {
    const headers = dispatchHeaders({ ...base, userHeaders: { 'user-agent': 'my-app/2' }, body: null });
    expect(headers['user-agent']).toBe('my-app/2');
    expect(headers['User-Agent']).toBeUndefined();
  });

  it('never forwards a user-set Host header, whatever its case (old rows may carry one)', () => {
    const headers = dispatchHeaders({
      ...base,
      userHeaders: { Host: 'internal.admin', hOsT: 'x', 'X-Ok': '1' },
      body: null,
    });
    expect(Object.keys(headers).map((name) => name.toLowerCase())).not.toContain('host');
    expect(headers['X-Ok']).toBe('1');
  });

  it("replaces user headers that impersonate AsyncQueue's", () => {
    const userHeaders = { 'x-asyncqueue-attempt': '99', 'X-ASYNCQUEUE-SIGNATURE': 'forged', 'X-Other': 'kept' };
    const headers = dispatchHeaders({ ...base, userHeaders, body: null });
    expect(headers['x-asyncqueue-attempt']).toBeUndefined();
    expect(headers['X-ASYNCQUEUE-SIGNATURE']).toBeUndefined();
    expect(headers).toMatchObject({ 'X-AsyncQueue-Attempt': '3', 'X-Other': 'kept' });
  });

  it("signs '' when there is no body, with one v1 per secret during a rotation", () => {
    const headers = dispatchHeaders({
      ...base,
      method: 'GET',
      secrets: [SECRET, ROTATED],
      userHeaders: {},
      body: null,
    });
    const request = { method: 'GET', url: URL_, body: '' };
    expect(headers['X-AsyncQueue-Signature']).toBe(dispatchSignature([SECRET, ROTATED], request, 1_700_000_000));
    expect(headers['X-AsyncQueue-Signature']?.match(/v1=/g)).toHaveLength(2);
  });
});
