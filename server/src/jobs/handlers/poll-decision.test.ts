import { describe, expect, it } from 'vitest';
import type { OutboundResult } from '../../dispatch/outbound-types.ts';
import { findPreset } from '../../tasks/providers/index.ts';
import type { PollConfig } from '../../tasks/task-types.ts';
import { answered, unanswered } from './decision-fixtures.ts';
import { decidePoll, resultBody } from './poll-decision.ts';

/** A status response with `body` (JSON `{}` unless given). */
function status(statusCode: number, body = '{}', bodyEncoding: 'utf8' | 'base64' = 'utf8'): OutboundResult {
  return answered(statusCode, { body, bodyEncoding });
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

/** A Replicate-like status body: `status` names the state, `error.message` why it failed. */
const byBody: PollConfig = {
  urlTemplate: 'https://provider.example/predictions/{startResult.body.id}',
  statusPath: 'status',
  doneValues: ['succeeded'],
  failValues: ['failed', 'canceled'],
  errorPath: 'error.message',
  interval: 5,
  maxDuration: 600,
  forwardAuth: true,
};

describe('decidePoll with a statusPath into the body', () => {
  it('a done value is done, with the parsed body as progress', () => {
    const body = '{"status":"succeeded","output":["https://cdn.example/a.png"]}';
    expect(decidePoll(byBody, status(200, body))).toEqual({
      kind: 'done',
      progress: { status: 'succeeded', output: ['https://cdn.example/a.png'] },
    });
  });

  it('any other value keeps polling, with the parsed body as progress', () => {
    expect(decidePoll(byBody, status(200, '{"status":"processing","logs":"50%"}'))).toEqual({
      kind: 'continue',
      progress: { status: 'processing', logs: '50%' },
    });
  });

  it('a nested statusPath and a number as the value are read as text', () => {
    const nested: PollConfig = { ...byBody, statusPath: 'data.state', doneValues: ['3'], errorPath: null };
    expect(decidePoll(nested, status(200, '{"data":{"state":3}}')).kind).toBe('done');
    expect(decidePoll(nested, status(200, '{"data":{"state":2}}')).kind).toBe('continue');
  });

  it('a fail value fails with the text at errorPath', () => {
    const body = '{"status":"failed","error":{"message":"NSFW content detected"}}';
    expect(decidePoll(byBody, status(200, body))).toEqual({
      kind: 'failed',
      error: 'NSFW content detected',
      progress: { status: 'failed', error: { message: 'NSFW content detected' } },
    });
  });

  it('a non-text value at errorPath is quoted as JSON', () => {
    const config: PollConfig = { ...byBody, errorPath: 'error' };
    const step = decidePoll(config, status(200, '{"status":"failed","error":{"code":42}}'));
    expect(step).toMatchObject({ kind: 'failed', error: '{"code":42}' });
  });

  it('a fail value without a value at errorPath (or without errorPath) names the status', () => {
    expect(decidePoll(byBody, status(200, '{"status":"canceled","error":null}'))).toMatchObject({
      kind: 'failed',
      error: 'Provider reported status = canceled',
    });
    const noErrorPath: PollConfig = { ...byBody, errorPath: null };
    expect(decidePoll(noErrorPath, status(200, '{"status":"failed","error":{"message":"x"}}'))).toMatchObject({
      kind: 'failed',
      error: 'Provider reported status = failed',
    });
  });

  it('a body without a value at statusPath (missing or null) fails, naming the path', () => {
    const error = 'statusPath "status" is missing from the status response';
    expect(decidePoll(byBody, status(200, '{"state":"succeeded"}'))).toEqual({
      kind: 'failed',
      error,
      progress: { state: 'succeeded' },
    });
    expect(decidePoll(byBody, status(200, '{"status":null}'))).toMatchObject({ kind: 'failed', error });
  });

  it('a body that is not JSON (text or binary) fails without progress', () => {
    const expected = { kind: 'failed', error: 'Status response is not JSON', progress: null };
    expect(decidePoll(byBody, status(200, '<html>ok</html>'))).toEqual(expected);
    expect(decidePoll(byBody, status(200, 'eyJzdGF0dXMiOiJzdWNjZWVkZWQifQ==', 'base64'))).toEqual(expected);
  });

  it.each([500, 502, 503, 429, 408, 425])('HTTP %i is transient: polling goes on', (code) => {
    expect(decidePoll(byBody, status(code, '{"status":"failed"}'))).toEqual({
      kind: 'transient',
      reason: `Status URL answered ${code}`,
    });
  });

  it.each([404, 401, 400, 302])('HTTP %i fails, quoting the body', (code) => {
    expect(decidePoll(byBody, status(code, '{"detail":"Not found."}'))).toEqual({
      kind: 'failed',
      error: `Status URL answered ${code}: {"detail":"Not found."}`,
      progress: { detail: 'Not found.' },
    });
  });

  it('a failing answer quotes at most 500 characters of text, and no bytes of a binary body', () => {
    const page = `<html>${'e'.repeat(600)}</html>`;
    expect(decidePoll(byBody, status(404, page))).toEqual({
      kind: 'failed',
      error: `Status URL answered 404: ${page.slice(0, 500)}…`,
      progress: null,
    });
    expect(decidePoll(byBody, status(403, 'AAEC', 'base64'))).toMatchObject({
      error: 'Status URL answered 403: (a binary body)',
    });
  });

  it('no answer: a timeout, network or DNS failure is transient; a refusal fails the poll', () => {
    expect(decidePoll(byBody, unanswered('timeout', 'Request timed out after 30000 ms'))).toEqual({
      kind: 'transient',
      reason: 'Request timed out after 30000 ms',
    });
    expect(decidePoll(byBody, unanswered('dns', 'getaddrinfo EAI_AGAIN')).kind).toBe('transient');
    expect(decidePoll(byBody, unanswered('network_guard', 'network guard: 10.0.0.5 is private'))).toEqual({
      kind: 'failed',
      error: 'Polling the status URL failed: network guard: 10.0.0.5 is private',
      progress: null,
    });
  });
});

describe('resultBody', () => {
  it('without resultPath the body is kept as read, text or base64', () => {
    expect(resultBody(byBody, { body: '{"output":1}', bodyEncoding: 'utf8' })).toEqual({
      body: '{"output":1}',
      bodyEncoding: 'utf8',
    });
    expect(resultBody(byBody, { body: 'AAEC', bodyEncoding: 'base64' })).toEqual({
      body: 'AAEC',
      bodyEncoding: 'base64',
    });
  });

  it('with resultPath the body is the JSON text of the value there', () => {
    const config: PollConfig = { ...byBody, resultPath: 'output.0' };
    const body = '{"status":"succeeded","output":[{"url":"https://cdn.example/a.png"}]}';
    expect(resultBody(config, { body, bodyEncoding: 'utf8' })).toEqual({
      body: '{"url":"https://cdn.example/a.png"}',
      bodyEncoding: 'utf8',
    });
    const text: PollConfig = { ...byBody, resultPath: 'status' };
    expect(resultBody(text, { body, bodyEncoding: 'utf8' })).toEqual({ body: '"succeeded"', bodyEncoding: 'utf8' });
  });

  it('with resultPath and nothing there (missing path, non-JSON or binary body) the body is null', () => {
    const config: PollConfig = { ...byBody, resultPath: 'output' };
    const none = { body: 'null', bodyEncoding: 'utf8' };
    expect(resultBody(config, { body: '{"status":"succeeded"}', bodyEncoding: 'utf8' })).toEqual(none);
    expect(resultBody(config, { body: 'not json', bodyEncoding: 'utf8' })).toEqual(none);
    expect(resultBody(config, { body: 'eyJvdXRwdXQiOjF9', bodyEncoding: 'base64' })).toEqual(none);
  });
});
