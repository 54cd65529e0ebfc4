import { describe, expect, it } from 'vitest';
import { createHttpCaller } from '../server/src/dispatch/http-caller.ts';
import { parseAllowedCidrs } from '../server/src/dispatch/network-guard.ts';
import { useBinaryProvidersFixture } from './helpers/binary-providers-fixture.ts';
import { FAKE_MP3, FAKE_PNG } from './helpers/fake-binary-providers.ts';
import { api } from './helpers/http.ts';
import { waitFor } from './helpers/wait-for.ts';

// Bodies that are not text (audio, images) and untrusted strings holding U+0000: each used to fail
// the jsonb write of its attempt, so the job was redelivered and the task stayed processing.

// Replicate's fixed poll URL points at the fake (404 there), so the hybrid task below stays quiet.
const fx = useBinaryProvidersFixture();
const { create } = fx;
const until = (id: string, status: string) => fx.until(id, status, 15_000);
const bytesOf = (result: { body: string; bodyEncoding: string }) =>
  Buffer.from(result.body, result.bodyEncoding === 'base64' ? 'base64' : 'utf8');

describe('binary response bodies', () => {
  it('completes an ElevenLabs text-to-speech task (audio/mpeg with NULs) as base64, the bytes exact, the target hit once', async () => {
    const path = '/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM';
    const { task } = await create({
      targetUrl: fx.fake.url(path),
      headers: { 'xi-api-key': 'xi-test', 'Content-Type': 'application/json', Accept: 'audio/mpeg' },
      body: JSON.stringify({ text: 'Hello', model_id: 'eleven_multilingual_v2' }),
    });
    const done = await until(task.id, 'completed');
    expect(done.result).toMatchObject({ statusCode: 200, bodyEncoding: 'base64', bodyTruncated: false });
    expect(done.result.headers['content-type']).toBe('audio/mpeg');
    expect(bytesOf(done.result).equals(FAKE_MP3)).toBe(true);
    expect(done.attempts).toHaveLength(1);
    expect(fx.fake.hits(path)).toBe(1);
  });

  it('completes a Stability image task (a real PNG) as base64, the bytes exact, the target hit once', async () => {
    const path = '/v2beta/stable-image/generate/core';
    const { task } = await create({
      targetUrl: fx.fake.url(path),
      headers: { Authorization: 'Bearer sk-test', Accept: 'image/*' },
      body: '{"prompt":"a lighthouse"}',
    });
    const done = await until(task.id, 'completed');
    expect(done.result).toMatchObject({ statusCode: 200, bodyEncoding: 'base64' });
    expect(bytesOf(done.result).equals(FAKE_PNG)).toBe(true);
    expect(fx.fake.hits(path)).toBe(1);
  });

  it('keeps a text body as utf8 text: control characters and all', async () => {
    const { task } = await create({ targetUrl: fx.fake.url('/bytes?size=300'), method: 'GET' });
    const done = await until(task.id, 'completed');
    expect(done.result.bodyEncoding).toBe('utf8');
    expect(done.result.body).toHaveLength(300);
    expect(done.result.body.charCodeAt(0)).toBe(1);
  });

  it('moves a task whose dispatch answered bytes to waiting (its start result stored), then completes it by signal', async () => {
    const { task, signalToken } = await create({
      targetUrl: fx.fake.url('/v1/text-to-speech/voice'),
      headers: { 'xi-api-key': 'xi-test' },
      waitForSignal: true,
    });
    await until(task.id, 'waiting');
    const signal = await api(fx.t.url, 'POST', `/v1/signals/${signalToken}`, {
      body: { status: 'completed', result: { approvedBy: 'ana' } },
    });
    expect(signal.status, signal.text).toBe(200);
    const done = await until(task.id, 'completed');
    expect(done.result).toMatchObject({ bodyEncoding: 'utf8' });
    expect(JSON.parse(done.result.body)).toEqual({ approvedBy: 'ana' });
  });
});

describe('the response cap on binary bodies', () => {
  it('cuts a binary body on bytes at the cap: the base64 of exactly maxResponseBytes bytes', async () => {
    const caller = createHttpCaller({ allowed: parseAllowedCidrs('127.0.0.0/8') });
    try {
      const result = await caller.call({
        url: fx.fake.url('/v1/text-to-speech/voice'),
        method: 'POST',
        headers: { 'xi-api-key': 'xi-test' },
        body: '{}',
        timeoutMs: 5_000,
        maxResponseBytes: 101,
      });
      expect(result.ok && result.response).toMatchObject({ bodyEncoding: 'base64', bodyTruncated: true });
      if (result.ok) expect(Buffer.from(result.response.body, 'base64').equals(FAKE_MP3.subarray(0, 101))).toBe(true);
    } finally {
      await caller.close();
    }
  });
});

describe('untrusted strings holding U+0000', () => {
  it('stores a poll status with \\u0000 as progress (intact), and a provider error with \\u0000 (as U+FFFD)', async () => {
    const { task } = await create({
      targetUrl: fx.fake.url('/jobs?id=nul-1'),
      pollConfig: {
        urlTemplate: fx.fake.url('/jobs/{startResult.body.id}'),
        statusPath: 'status',
        doneValues: ['done'],
        failValues: ['failed'],
        errorPath: 'error',
        interval: 1,
      },
    });
    const polling = await waitFor('progress of the first poll', async () => {
      const res = await api(fx.t.url, 'GET', `/v1/tasks/${task.id}`, { key: fx.team.apiKey });
      return res.body.task.progress ? res.body.task : null;
    });
    expect(polling.progress).toEqual({ status: 'running', note: 'a\u0000b' });
    const failed = await until(task.id, 'failed');
    expect(failed.error).toBe('bad\uFFFDinput');
  });

  it('keeps a non-final Replicate callback with \\u0000 as progress (202), not a 500', async () => {
    const { taskId, callbackUrl } = await fx.pollingReplicateTask('rep-1', 15_000);
    const payload = { id: 'rep-1', status: 'processing', logs: 'step 1\u0000step 2' };
    const res = await fetch(callbackUrl, { method: 'POST', body: JSON.stringify(payload) });
    expect(res.status, await res.text()).toBe(202);
    const current = await api(fx.t.url, 'GET', `/v1/tasks/${taskId}`, { key: fx.team.apiKey });
    expect(current.body.task.progress).toEqual(payload);
  });
});
