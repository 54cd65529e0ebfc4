import { describe, expect, it } from 'vitest';
import { fillTemplate, readPath, TemplateError } from './poll-template.ts';
import type { TaskResult } from './task-types.ts';

const start = (body: unknown, headers: Record<string, string> = {}): TaskResult => ({
  statusCode: 200,
  headers,
  body: JSON.stringify(body),
  bodyEncoding: 'utf8',
  duration: 1,
  bodyTruncated: false,
});

describe('poll templates', () => {
  it('takes a whole-URL placeholder as is', () => {
    const url = 'https://queue.fal.run/fal-ai/x/requests/abc/status?logs=1';
    expect(fillTemplate('{startResult.body.status_url}', start({ status_url: url }), 'urlTemplate')).toBe(url);
  });

  it('encodes a value inside a larger template and reads nested paths and headers', () => {
    const result = start({ data: { id: 'a/b c' } }, { 'X-Request-Id': 'r1' });
    expect(
      fillTemplate('https://p.test/v1/{startResult.body.data.id}?r={startResult.headers.x-request-id}', result, 'f'),
    ).toBe('https://p.test/v1/a%2Fb%20c?r=r1');
  });

  it('fails clearly when the value is missing, empty or not a scalar', () => {
    for (const body of [{}, { id: '' }, { id: null }, { id: { nested: 1 } }]) {
      expect(() => fillTemplate('https://p.test/{startResult.body.id}', start(body), 'pollConfig.urlTemplate')).toThrow(
        TemplateError,
      );
    }
    expect(() => fillTemplate('https://p.test/{startResult.body.id}', start({}), 'pollConfig.urlTemplate')).toThrow(
      'pollConfig.urlTemplate: {startResult.body.id} resolved to nothing in the dispatch response',
    );
  });

  it('keeps a value inside its one path segment: ../../admin is encoded, "." and ".." are refused', () => {
    const template = 'https://api.replicate.com/v1/predictions/{startResult.body.id}';
    expect(fillTemplate(template, start({ id: '../../admin' }), 'f')).toBe(
      'https://api.replicate.com/v1/predictions/..%2F..%2Fadmin',
    );
    expect(fillTemplate(template, start({ id: 'a?b#c' }), 'f')).toBe(
      'https://api.replicate.com/v1/predictions/a%3Fb%23c',
    );
    expect(fillTemplate(template, start({ id: '%2E%2E' }), 'f')).toBe(
      'https://api.replicate.com/v1/predictions/%252E%252E',
    );
    for (const id of ['..', '.']) {
      expect(() => fillTemplate(template, start({ id }), 'pollConfig.urlTemplate')).toThrow(
        'pollConfig.urlTemplate: a value from the dispatch response made a "." or ".." path segment',
      );
    }
    expect(() => fillTemplate(`${template}/result`, start({ id: '..' }), 'f')).toThrow(TemplateError);
    expect(fillTemplate(`${template}.json`, start({ id: '.' }), 'f')).toBe(
      'https://api.replicate.com/v1/predictions/..json',
    );
  });

  it('reads dot paths with array indexes', () => {
    expect(readPath({ output: ['u1', 'u2'] }, 'output.1')).toBe('u2');
    expect(readPath({ a: 1 }, '')).toEqual({ a: 1 });
    expect(readPath({ a: 1 }, 'a.b')).toBeUndefined();
  });
});
