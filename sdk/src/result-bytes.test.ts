import { describe, expect, it } from 'vitest';
import { resultBytes } from './result-bytes.ts';

const result = (body: string, bodyEncoding: 'utf8' | 'base64') => ({
  statusCode: 200,
  headers: {},
  body,
  bodyEncoding,
  duration: 1,
  bodyTruncated: false,
});

describe('resultBytes', () => {
  it('gives the bytes of a base64 body (an MP3 frame with NULs) exactly', () => {
    const bytes = Uint8Array.from([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0xff, 0xfb, 0x90, 0x00]);
    const encoded = Buffer.from(bytes).toString('base64');
    expect(resultBytes(result(encoded, 'base64'))).toEqual(bytes);
  });

  it('gives the UTF-8 bytes of a text body', () => {
    expect(resultBytes(result('héllo ✓', 'utf8'))).toEqual(new Uint8Array(Buffer.from('héllo ✓', 'utf8')));
  });

  it('reads the result of a task, and null when the task has none', () => {
    expect(resultBytes({ result: result('aGk=', 'base64') })).toEqual(Uint8Array.from([0x68, 0x69]));
    expect(resultBytes({ result: null })).toBeNull();
  });
});
