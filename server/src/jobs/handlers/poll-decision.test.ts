import { describe, expect, it } from 'vitest';
import type { OutboundResult } from '../../dispatch/outbound-types.ts';
import { findPreset } from '../../tasks/providers/index.ts';
import type { PollConfig } from '../../tasks/task-types.ts';
import { decidePoll } from './poll-decision.ts';

function status(statusCode: number, body = '{}'): OutboundResult {
  return {
    ok: true,
    response: {
      statusCode,
      headers: {},
      body,
      bodyEncoding: 'utf8',
      bodyTruncated: false,
      durationMs: 3,
      redirects: 0,
      release() {},
    },
  };
}

const stability = findPreset('stability-video')?.pollConfig as PollConfig;
const custom: PollConfig = {
  urlTemplate: 'https://example.com/{startResult.body.id}',
  statusPath: '$httpStatus',
  doneValues: ['200'],
  failValues: ['404'],
  interval: 5,
  maxDuration: 600,
  forwardAuth: false,
};

describe('decidePoll with $httpStatus', () => {
  it('stability-video: its table lists 500 as a failure, so a 500 fails the task at once', () => {
    const step = decidePoll(stability, status(500, '{"name":"internal_error"}'));
    expect(step).toMatchObject({ kind: 'failed', error: 'Provider answered HTTP 500: {"name":"internal_error"}' });
  });

  it('stability-video: 202 keeps polling, 200 is done, 400 and 404 fail', () => {
    expect(decidePoll(stability, status(202)).kind).toBe('continue');
    expect(decidePoll(stability, status(200)).kind).toBe('done');
    expect(decidePoll(stability, status(400)).kind).toBe('failed');
    expect(decidePoll(stability, status(404)).kind).toBe('failed');
  });

  it('a custom config without 500 in failValues keeps polling through a 5xx (transient)', () => {
    expect(decidePoll(custom, status(500))).toEqual({ kind: 'transient', reason: 'HTTP 500' });
    expect(decidePoll(custom, status(503)).kind).toBe('transient');
  });
});
