import { describe, expect, it } from 'vitest';
import { dispatchHeaders } from './outbound-headers.ts';
import { asyncQueueSignature } from './signing.ts';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const ROTATED = `whsec_${Buffer.alloc(32, 8).toString('base64')}`;
const base = { taskId: 'task-1', attempt: 3, secrets: [SECRET], version: '1.2.3', unixSeconds: 1_700_000_000 };

describe('dispatchHeaders', () => {
  it("adds AsyncQueue's headers to the user's", () => {
    const headers = dispatchHeaders({ ...base, userHeaders: { 'Content-Type': 'application/json' }, body: '{"a":1}' });
    expect(headers).toEqual({
      'Content-Type': 'application/json',
      'User-Agent': 'AsyncQueue/1.2.3',
      'X-AsyncQueue-Task-Id': 'task-1',
      'X-AsyncQueue-Attempt': '3',
      'X-AsyncQueue-Signature': asyncQueueSignature([SECRET], '{"a":1}', 1_700_000_000),
    });
  });

  it("keeps the user's User-Agent, whatever its case", () => {
    const headers = dispatchHeaders({ ...base, userHeaders: { 'user-agent': 'my-app/2' }, body: null });
    expect(headers['user-agent']).toBe('my-app/2');
    expect(headers['User-Agent']).toBeUndefined();
  });

  it("replaces user headers that impersonate AsyncQueue's", () => {
    const userHeaders = { 'x-asyncqueue-attempt': '99', 'X-ASYNCQUEUE-SIGNATURE': 'forged', 'X-Other': 'kept' };
    const headers = dispatchHeaders({ ...base, userHeaders, body: null });
    expect(headers['x-asyncqueue-attempt']).toBeUndefined();
    expect(headers['X-ASYNCQUEUE-SIGNATURE']).toBeUndefined();
    expect(headers).toMatchObject({ 'X-AsyncQueue-Attempt': '3', 'X-Other': 'kept' });
  });

  it("signs '' when there is no body, with one v1 per secret during a rotation", () => {
    const headers = dispatchHeaders({ ...base, secrets: [SECRET, ROTATED], userHeaders: {}, body: null });
    expect(headers['X-AsyncQueue-Signature']).toBe(asyncQueueSignature([SECRET, ROTATED], '', 1_700_000_000));
    expect(headers['X-AsyncQueue-Signature']?.match(/v1=/g)).toHaveLength(2);
  });
});
